"""Request bodies of the served endpoints, as the official OpenAI client sends them.

A request may carry a namespaced ``ttscale`` object (the client's ``extra_body``): the strategy that
spends inference on it (``"majority:k=8"``), else the server's default. Fields the server does not
use (``logit_bias``, ``user`` ...) are accepted and ignored, as OpenAI-compatible servers do.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_PROMPTS = 64  # prompts one completions request may send


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
    # Several prompts are one request: the strategy answers them together (an allocation spends one budget
    # across them) and each gets its choice, in order.
    prompt: str | list[str]

    def prompts(self) -> list[str]:
        return [self.prompt] if isinstance(self.prompt, str) else list(self.prompt)

    @field_validator("prompt")
    @classmethod
    def _some_prompts(cls, value: str | list[str]) -> str | list[str]:
        if isinstance(value, list) and not 1 <= len(value) <= MAX_PROMPTS:
            raise ValueError(f"give 1..{MAX_PROMPTS} prompts, got {len(value)}")
        return value


class Message(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: str
    content: str


class ChatRequest(SamplingFields):
    messages: list[Message] = Field(min_length=1)
