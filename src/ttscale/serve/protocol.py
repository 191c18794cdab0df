"""Request bodies of the served endpoints, as the official OpenAI client sends them.

A request may carry a namespaced ``ttscale`` object (the client's ``extra_body``): the strategy that
spends inference on it (``"majority:k=8"``), else the server's default. Fields the server does not
use (``logit_bias``, ``user`` ...) are accepted and ignored, as OpenAI-compatible servers do.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class TtscaleOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    strategy: str | None = Field(None, description="a strategy spec, e.g. majority:k=8 (default: the server's)")


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")

    include_usage: bool = False


class SamplingFields(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: str
    max_tokens: int | None = Field(None, ge=1, le=32_768)
    temperature: float = Field(1.0, ge=0.0, le=2.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    stop: str | list[str] | None = None
    seed: int | None = Field(None, ge=0)
    n: int = Field(1, ge=1, le=1)  # one chosen answer per request: the strategy draws the samples
    stream: bool = False
    stream_options: StreamOptions | None = None
    ttscale: TtscaleOptions | None = None

    def stops(self) -> tuple[str, ...]:
        if self.stop is None:
            return ()
        return (self.stop,) if isinstance(self.stop, str) else tuple(self.stop)


class CompletionRequest(SamplingFields):
    prompt: str


class Message(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: str
    content: str


class ChatRequest(SamplingFields):
    messages: list[Message] = Field(min_length=1)
