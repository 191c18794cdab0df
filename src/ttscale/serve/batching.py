"""Concurrent requests on one in-process model, decoded together.

An in-process engine runs one call at a time, but one call decodes many sequences in each step (up to
the engine's ``max_seqs``), for far less than the price of each alone. So requests must not take
turns at the engine: a ``BatchingBackend`` owns it through one worker thread, and a request's
``generate`` call waits in line for it.

- A llama.cpp model is batched continuously (``backends.llama_cpp_continuous``): a call joins the
  running batch at the next decode step, whatever its settings, and leaves it as soon as its samples
  are done. A tree search's cache-reusing call runs alone, once the running sequences have drained.
- Any other in-process backend (the lab's tiny models) is batched per call: whenever the engine is
  free the worker takes every waiting call, joins those with the same sampling settings and stop
  strings into one engine call (their prompts side by side), and hands each caller its own pools.

Joining changes no seed and no count: a sample depends on (model, prompt, seed, settings), up to the
float rounding of llama.cpp's batched kernels (``backends.llama_cpp``). If a joined call fails, each
of its requests is run again alone, so one bad request gets its own error and the others their answers.

Cancellation: a request's calls carry its ``Cancel`` (``cancelled_by``: set when the client goes
away). A waiting call of a cancelled request never runs; a running one drops its prompts at the next
decode step when the engine can (``generate_dropping``); either way its caller gets ``RequestCancelled``
and the other requests of the batch go on.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from ttscale.backends import Backend, Stop, stop_strings
from ttscale.backends.chat_posing import PosingBackend
from ttscale.backends.llama_cpp import LlamaCppBackend
from ttscale.backends.llama_cpp_continuous import ContinuousDecoder
from ttscale.backends.prefix_reuse import PrefixReusingBackend
from ttscale.types import Generation, SamplingConfig


class RequestCancelled(Exception):
    """The request's client went away; its samples were not all drawn."""


@runtime_checkable
class DroppingBackend(Protocol):
    def generate_dropping(self, prompts: Sequence[str], seeds: Sequence[Sequence[int]], config: SamplingConfig,
                          stop: Stop, dropped: Callable[[int], bool]) -> list[list[Generation]]: ...


_cancel: ContextVar[threading.Event | None] = ContextVar("ttscale_serve_cancel", default=None)


@contextmanager
def cancelled_by(event: threading.Event) -> Iterator[None]:
    """Within this block (one request's model work, in its thread), backend calls stop when ``event`` is set."""
    token = _cancel.set(event)
    try:
        yield
    finally:
        _cancel.reset(token)


def check_not_cancelled() -> None:
    event = _cancel.get()
    if event is not None and event.is_set():
        raise RequestCancelled("the client went away")


@dataclass(eq=False)
class _Call:
    prompts: list[str]
    seeds: list[list[int]]
    config: SamplingConfig
    stop: tuple[str, ...]
    cancel: threading.Event | None
    run_alone: Callable[[], object] | None = None  # a call that must not be joined (prefix reuse)
    done: threading.Event = field(default_factory=threading.Event)
    result: object = None
    error: BaseException | None = None

    @property
    def cancelled(self) -> bool:
        return self.cancel is not None and self.cancel.is_set()

    def finish(self, result: object = None, error: BaseException | None = None) -> None:
        self.result, self.error = result, error
        self.done.set()


# Called after each engine call with (requests joined, sequences decoded): the server's metrics.
BatchObserver = Callable[[int, int], None]


class BatchingBackend:
    """``inner`` (an in-process backend) behind one worker thread that joins concurrent calls (module note).
    It speaks the ``Backend`` protocol, and the posing and prefix-reusing ones when ``inner`` does."""

    def __init__(self, inner: Backend, observe: BatchObserver | None = None) -> None:
        self.inner = inner
        self.name, self.card, self.prefill_shared = inner.name, inner.card, inner.prefill_shared
        self._observe = observe
        self._waiting: list[_Call] = []
        self._ready = threading.Condition()
        self._closed = False
        if isinstance(inner, PosingBackend):
            self.prompt_style = inner.prompt_style
            self.pose = inner.pose
        if isinstance(inner, PrefixReusingBackend):  # tree search: its calls keep the cache, so run alone
            self.max_seqs = inner.max_seqs
            self.generate_reusing = self._generate_reusing
            self.forget_cache = self._forget_cache
        work = self._work_continuously if isinstance(inner, LlamaCppBackend) else self._work
        self._worker = threading.Thread(target=work, name=f"ttscale-batch-{inner.name}", daemon=True)
        self._worker.start()

    @property
    def waiting(self) -> int:
        """Calls waiting for the engine."""
        with self._ready:
            return len(self._waiting)

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)  # tokenizing reads the vocabulary only: safe beside a decode

    def generate(self, prompts: Sequence[str], seeds: Sequence[Sequence[int]], config: SamplingConfig,
                 stop: Stop) -> list[list[Generation]]:
        return self._submit(_Call(list(prompts), [list(s) for s in seeds], config, stop_strings(stop), _cancel.get()))

    def _generate_reusing(self, prompts, seeds, config, stop):
        call = _Call(list(prompts), [list(s) for s in seeds], config, stop_strings(stop), _cancel.get())
        call.run_alone = lambda: self.inner.generate_reusing(call.prompts, call.seeds, config, stop)
        return self._submit(call)

    def _forget_cache(self) -> None:
        call = _Call([], [], SamplingConfig(), (), None)
        call.run_alone = self.inner.forget_cache
        self._submit(call)

    def _submit(self, call: _Call):
        check_not_cancelled()
        with self._ready:
            if self._closed:
                raise RuntimeError(f"model {self.name!r} is closed")
            self._waiting.append(call)
            self._ready.notify()
        call.done.wait()
        if call.error is not None:
            raise call.error
        return call.result

    def close(self) -> None:
        with self._ready:
            self._closed = True
            self._ready.notify()
        self._worker.join(timeout=60)
        self.inner.close()

    # -- the worker ------------------------------------------------------
    def _work(self) -> None:
        while True:
            with self._ready:
                while not self._waiting and not self._closed:
                    self._ready.wait()
                if not self._waiting:
                    return
                calls, self._waiting = self._waiting, []
            for group in _groups(calls):
                self._run(group)

    def _work_continuously(self) -> None:
        decoder = ContinuousDecoder(self.inner)
        active: dict[int, _Call] = {}  # the calls the decoder holds, by key
        alone: list[_Call] = []
        while True:
            with self._ready:
                while not (self._waiting or decoder.busy or alone or self._closed):
                    self._ready.wait()
                if self._closed and not (self._waiting or decoder.busy or alone):
                    return
                arrived, self._waiting = self._waiting, []
            for call in arrived:
                if call.run_alone is not None:
                    alone.append(call)
                    continue
                try:
                    decoder.add(id(call), call.prompts, call.seeds, call.config, call.stop)
                    active[id(call)] = call
                except BaseException as exc:  # its own fault (a prompt too long): the others go on
                    call.finish(error=exc)
            for key, call in list(active.items()):
                if call.cancelled:
                    decoder.drop(key)
                    del active[key]
                    call.finish(error=RequestCancelled("the client went away while its samples were drawn"))
            if alone and not decoder.running:
                decoder.lend_engine()
                for call in alone:
                    self._run([call])
                alone = []
                continue
            try:
                completed = decoder.step(admit=not alone)  # a waiting search lets the batch drain first
            except BaseException as exc:  # the engine failed mid-step: every call in it fails, the next start clean
                for call in active.values():
                    call.finish(error=exc)
                active.clear()
                decoder = ContinuousDecoder(self.inner)
                continue
            if self._observe is not None and decoder.running_calls:
                self._observe(decoder.running_calls, decoder.running_sequences)
            for key, pools in completed:
                active.pop(key).finish(pools)

    def _run(self, group: list[_Call]) -> None:
        for call in group:
            if call.cancelled:
                call.finish(error=RequestCancelled("the client went away before its samples were drawn"))
        group = [c for c in group if not c.done.is_set()]
        if not group:
            return
        if group[0].run_alone is not None:
            try:
                group[0].finish(group[0].run_alone())
            except BaseException as exc:  # handed to the caller, who raises it in its own thread
                group[0].finish(error=exc)
            return
        try:
            pools = self._decode(group)
        except BaseException as exc:
            if len(group) == 1:
                group[0].finish(error=exc)
                return
            for call in group:  # one request's fault must not fail the others: each again, alone
                self._run([call])
            return
        start = 0
        for call in group:
            own = pools[start : start + len(call.prompts)]
            start += len(call.prompts)
            if call.cancelled:
                call.finish(error=RequestCancelled("the client went away while its samples were drawn"))
            else:
                call.finish(own)

    def _decode(self, group: list[_Call]) -> list[list[Generation]]:
        prompts = [p for call in group for p in call.prompts]
        seeds = [s for call in group for s in call.seeds]
        owner = [call for call in group for _ in call.prompts]
        config, stop = group[0].config, group[0].stop
        if isinstance(self.inner, DroppingBackend):
            pools = self.inner.generate_dropping(prompts, seeds, config, stop, lambda i: owner[i].cancelled)
        else:
            pools = self.inner.generate(prompts, seeds, config, stop)
        if self._observe is not None:
            self._observe(len(group), sum(len(s) for s in seeds))
        return pools


def _groups(calls: list[_Call]) -> list[list[_Call]]:
    """Calls that may share one engine call, in arrival order: equal settings and stops; alone-calls alone."""
    groups: dict[object, list[_Call]] = {}
    for index, call in enumerate(calls):
        key = ("alone", index) if call.run_alone is not None else (call.config, call.stop)
        groups.setdefault(key, []).append(call)
    return list(groups.values())
