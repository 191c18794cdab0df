"""Response bodies in OpenAI's shapes: a whole completion, and the chunks of a streamed one.

A streamed answer is not a stream of tokens: the strategy must finish drawing and voting before it knows
the answer. So the stream is keep-alive comments while it samples, then each answer as one chunk, then the
usage (when ``stream_options.include_usage`` asks for it), then ``[DONE]``.
"""

from __future__ import annotations

import json
import time

from ttscale.serve.answering import Answered, Request

KEEP_ALIVE = ": keep-alive\n\n"  # an SSE comment: clients skip it, proxies see the connection live
DONE = "data: [DONE]\n\n"


def _spent(a: Answered) -> dict:
    return {"samples": a.draws, "early_stop": a.early_stop, "answers": a.answers, "notes": a.notes,
            "flops": a.infer_flops}


def usage(request: Request) -> dict:
    """OpenAI's token counts (every generated token of every sample) and ``ttscale``: what the strategy spent,
    in total and per prompt (a completions request may send several)."""
    answers = request.answers
    prompt_tokens = sum(a.prompt_tokens for a in answers)
    completion_tokens = sum(a.completion_tokens for a in answers)
    by_model: dict[str, float] = {}
    for a in answers:
        for model, flops in a.flops_by_model.items():
            by_model[model] = by_model.get(model, 0.0) + flops
    first = answers[0]
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "ttscale": {
            "strategy": request.strategy,
            "samples": sum(a.draws for a in answers),
            "early_stop": all(a.early_stop for a in answers),
            "answers": first.answers if len(answers) == 1 else {},
            "flops": {"prefill": sum(a.prefill_flops for a in answers),
                      "decode": sum(a.decode_flops for a in answers),
                      "verifier": sum(a.verifier_flops for a in answers),
                      "total": sum(a.infer_flops for a in answers),
                      "by_model": by_model},
            "prompts": [_spent(a) for a in answers],
            "seconds": request.seconds,
        },
    }


def _head(identity: str, kind: str, model: str) -> dict:
    return {"id": identity, "object": kind, "created": int(time.time()), "model": model}


def _text_choice(index: int, a: Answered) -> dict:
    return {"index": index, "text": a.text, "finish_reason": a.finish_reason, "logprobs": None}


def _chat_choice(index: int, a: Answered) -> dict:
    return {"index": index, "message": {"role": "assistant", "content": a.text}, "finish_reason": a.finish_reason,
            "logprobs": None}


def completion(identity: str, model: str, request: Request) -> dict:
    return {**_head(identity, "text_completion", model),
            "choices": [_text_choice(i, a) for i, a in enumerate(request.answers)], "usage": usage(request)}


def chat_completion(identity: str, model: str, request: Request) -> dict:
    return {**_head(identity, "chat.completion", model),
            "choices": [_chat_choice(i, a) for i, a in enumerate(request.answers)], "usage": usage(request)}


def event(body: dict) -> str:
    return f"data: {json.dumps(body)}\n\n"


def answer_chunks(identity: str, model: str, request: Request, chat: bool, include_usage: bool) -> list[str]:
    """The events after the keep-alives: each answer, the usage when asked for, ``[DONE]``."""
    kind = "chat.completion.chunk" if chat else "text_completion"
    events = []
    for index, a in enumerate(request.answers):
        if chat:
            choice = {"index": index, "delta": {"role": "assistant", "content": a.text},
                      "finish_reason": a.finish_reason, "logprobs": None}
        else:
            choice = _text_choice(index, a)
        events.append(event({**_head(identity, kind, model), "choices": [choice]}))
    if include_usage:
        events.append(event({**_head(identity, kind, model), "choices": [], "usage": usage(request)}))
    return events + [DONE]
