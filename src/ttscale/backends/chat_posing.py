"""How a task's prompt is put to a model: as it is (``raw``), or as one user turn of the model's own
chat template (``chat``), rendered the way llama-cpp-python renders it (its Jinja2 formatter, with
the template, BOS and EOS strings from the GGUF's metadata) and ending in the assistant's header.

Instruct models are trained on their template; a raw prompt reaches them as text they never saw in
that shape. Which one a model needs is measured, not assumed (BENCHMARKS.md), and the choice is part
of a run's plan: samples posed one way are never mixed with samples posed the other.

A backend that can pose prompts implements ``PosingBackend``; every caller that builds the text a
backend decodes from a task's problem asks ``posed(backend, problem)`` (tree search appends its steps
after it, so they land inside the assistant's turn).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from enum import Enum
from pathlib import Path
from typing import Protocol, runtime_checkable

from ttscale.errors import InputError
from ttscale.types import Problem


class PromptStyle(str, Enum):
    raw = "raw"
    chat = "chat"


@runtime_checkable
class PosingBackend(Protocol):
    prompt_style: PromptStyle

    def pose(self, prompt: str) -> str:
        """The text this model decodes from for a task's ``prompt``."""
        ...


def posed(backend: object, problem: Problem) -> str:
    """A problem's prompt as ``backend`` is given it: posed by a posing backend, else as it is; then the
    start of the answer the task writes for the model (``meta["answer_start"]``: a chat task's opening
    code fence, so the completion is the code), if any."""
    prompt = backend.pose(problem.prompt) if isinstance(backend, PosingBackend) else problem.prompt
    return prompt + problem.meta.get("answer_start", "")


@dataclass(frozen=True)
class ChatTemplate:
    """A model's chat template and the special-token strings it refers to."""

    template: str
    bos_token: str
    eos_token: str

    @cached_property
    def _formatter(self):
        """The template compiled once (Jinja compiles on construction; tree search poses every node)."""
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        return Jinja2ChatFormatter(self.template, eos_token=self.eos_token, bos_token=self.bos_token,
                                   add_generation_prompt=True)

    def user_turn(self, prompt: str) -> str:
        """``prompt`` as the user's only message, followed by the assistant's header."""
        return self._formatter(messages=[{"role": "user", "content": prompt}]).prompt

    def writes_bos(self, text: str) -> bool:
        """Whether a posed ``text`` begins with the BOS token already (then the tokenizer must not add
        another: SmolLM2's BOS is ``<|im_start|>``, which its template writes first)."""
        return bool(self.bos_token) and text.startswith(self.bos_token)


def chat_template_of(path: str | Path) -> ChatTemplate | None:
    """The chat template in a GGUF's metadata (``tokenizer.chat_template``), or None when it has none."""
    from gguf import GGUFReader

    reader = GGUFReader(str(path))
    field = reader.fields.get("tokenizer.chat_template")
    if field is None:
        return None

    def text_of(name: str) -> str:
        found = reader.fields.get(name)
        return bytes(found.parts[found.data[0]]).decode("utf-8") if found is not None else ""

    def token_text(name: str) -> str:
        found = reader.fields.get(name)
        tokens = reader.fields.get("tokenizer.ggml.tokens")
        if found is None or tokens is None:
            return ""
        index = int(found.parts[found.data[0]][0])
        return bytes(tokens.parts[tokens.data[index]]).decode("utf-8", "replace")

    return ChatTemplate(text_of("tokenizer.chat_template"), token_text("tokenizer.ggml.bos_token_id"),
                        token_text("tokenizer.ggml.eos_token_id"))


def parse_style(value: str, flag: str = "--prompt") -> PromptStyle:
    try:
        return PromptStyle(value)
    except ValueError:
        raise InputError(f"{flag} must be one of {', '.join(s.value for s in PromptStyle)}, got {value!r}") from None
