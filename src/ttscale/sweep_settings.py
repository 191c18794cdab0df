"""What ``ttscale sweep`` runs, as typed settings: validated on construction, errors named by CLI option."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from ttscale.backends.chat_posing import PromptStyle
from ttscale.settings import TypedSettings
from ttscale.types import SamplingConfig


class SweepSettings(TypedSettings):
    """What ``ttscale sweep`` runs; validated on construction (``parse`` names the CLI options)."""

    models: tuple[str, ...] = Field(description="model specs, one backend each")
    task: str = Field(description="the task spec")
    n: int = Field(ge=1, le=1_000_000, description="samples per problem")
    limit: int | None = Field(None, ge=1, description="test problems used (None: every one)")
    calibration: int = Field(0, ge=0, le=100_000, description="problems of the task's calibration split also "
                                                               "sampled, for strategies that choose a threshold")
    strategies: tuple[str, ...] = Field((), description="strategy specs besides the default techniques")
    sampling: SamplingConfig = SamplingConfig(temperature=0.8, top_p=0.95, max_new_tokens=256)
    seed: int = Field(0, ge=0)
    threads: int | None = Field(None, ge=1, description="CPU threads per in-process backend")
    cards: tuple[str, ...] = Field((), description='"MODEL=CARD_SPEC": a card for a backend that cannot read one')
    n_boot: int = Field(200, ge=0, description="bootstrap replicates for intervals")
    logprobs: bool = Field(True, description="ask openai: servers for log-probabilities (slow on some servers)")
    timeout_s: float = Field(120.0, gt=0, le=86_400, description="seconds one openai: request may take")
    concurrency: int = Field(4, ge=1, le=1024, description="most openai: requests in flight per model")
    prompt: PromptStyle = Field(PromptStyle.raw, description="pose each prompt as is or as a chat turn")
    add_run: bool = Field(False, description="store a run with other settings next to the stored one in --out")
    max_chunk_problems: int = Field(64, ge=1, le=100_000, description="most problems per backend call (``pipeline.Chunking``)")
    chunk_seconds: float = Field(20.0, gt=0, description="aimed-at seconds per backend call")
    executor: Literal["local", "ray"] = Field("local", description="where backend calls run: here, or on Ray "
                                                                   "workers (the store is written here)")
    ray_address: str | None = Field(None, min_length=1, description="a running Ray cluster ('auto' or "
                                                                    "HOST:PORT); None: a local one for the run")
    max_inflight: int = Field(8, ge=1, le=100_000, description="units of work submitted to Ray and not yet stored")

    @field_validator("ray_address")
    @classmethod
    def _address_needs_ray(cls, address: str | None, info) -> str | None:
        if address is not None and info.data.get("executor") != "ray":
            raise ValueError("a Ray address is used only with --executor ray")
        return address

    @field_validator("models")
    @classmethod
    def _distinct(cls, models: tuple[str, ...]) -> tuple[str, ...]:
        if not models:
            raise ValueError("give at least one model spec")
        if len(set(models)) != len(models):
            raise ValueError(f"a spec is given twice ({', '.join(models)})")
        return models

    @classmethod
    def from_options(cls, **raw: object) -> SweepSettings:
        """The settings from the CLI's options; an error names the option (``--n``) and its value."""
        return cls.parse("ttscale sweep", raw, names={"models": "--model", "strategies": "--strategy",
                                                      "cards": "--card", "n_boot": "--n-boot",
                                                      "timeout_s": "--timeout", "add_run": "--add-run",
                                                      "ray_address": "--ray-address",
                                                      "max_inflight": "--max-inflight",
                                                      "max_chunk_problems": "--unit-size"})
