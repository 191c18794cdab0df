"""Response bodies in OpenAI's shapes: a whole completion, and the chunks of a streamed one.

A streamed answer is not a stream of tokens: the strategy must finish drawing and voting before it knows
the answer. So the stream is keep-alive comments while it samples, then the answer as one chunk, then the
usage (when ``stream_options.include_usage`` asks for it), then ``[DONE]``.
"""

from __future__ import annotations

import json
import time

from ttscale.serve.answering import Answered

KEEP_ALIVE = ": keep-alive\n\n"  # an SSE comment: clients skip it, proxies see the connection live
DONE = "data: [DONE]\n\n"


def usage(result: Answered) -> dict:
    return {
        "prompt_tokens": result.prompt_tokens,
        "completion_tokens": result.completion_tokens,
        "total_tokens": result.prompt_tokens + result.completion_tokens,
        "ttscale": {
            "strategy": result.strategy,
            "samples": len(result.samples),
            "flops": {"prefill": result.prefill_flops, "decode": result.decode_flops,
                      "verifier": result.verifier_flops, "total": result.infer_flops},
            "answers": result.answers,
            "seconds": result.seconds,
        },
    }


def _head(identity: str, kind: str, model: str) -> dict:
    return {"id": identity, "object": kind, "created": int(time.time()), "model": model}


def completion(identity: str, model: str, result: Answered) -> dict:
    return {**_head(identity, "text_completion", model),
            "choices": [{"index": 0, "text": result.text, "finish_reason": result.finish_reason, "logprobs": None}],
            "usage": usage(result)}


def chat_completion(identity: str, model: str, result: Answered) -> dict:
    return {**_head(identity, "chat.completion", model),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": result.text},
                         "finish_reason": result.finish_reason, "logprobs": None}],
            "usage": usage(result)}


def event(body: dict) -> str:
    return f"data: {json.dumps(body)}\n\n"


def answer_chunks(identity: str, model: str, result: Answered, chat: bool, include_usage: bool) -> list[str]:
    """The events after the keep-alives: the answer, the usage when asked for, ``[DONE]``."""
    if chat:
        kind = "chat.completion.chunk"
        choice = {"index": 0, "delta": {"role": "assistant", "content": result.text},
                  "finish_reason": result.finish_reason, "logprobs": None}
    else:
        kind = "text_completion"
        choice = {"index": 0, "text": result.text, "finish_reason": result.finish_reason, "logprobs": None}
    events = [event({**_head(identity, kind, model), "choices": [choice]})]
    if include_usage:
        events.append(event({**_head(identity, kind, model), "choices": [], "usage": usage(result)}))
    return events + [DONE]
