"""``ttscale serve``: an OpenAI-compatible server that spends inference compute the way a strategy says.

protocol.py: the request bodies (pydantic) and the ``ttscale`` extension a request may carry;
served_task.py: the task of a request that names none (free text, no verifier); answering.py: one
prompt answered by a strategy's live mode on the served model, with its cost; errors.py: the OpenAI
error envelope; metrics.py: Prometheus counters; app.py: the FastAPI application.
"""
