"""A thin owner of one llama.cpp model and context, through llama-cpp-python's
low-level (ctypes) API.

The high-level ``Llama`` object decodes one sequence at a time. Sampling a pool
needs many sequences decoding together over one shared prompt, which the
low-level batch API allows: each prompt token is put in the batch once, tagged
with the sequence ids of all its samples, so the prompt is prefilled once and
its KV cells are shared; afterwards every step decodes one token for each live
sequence in a single ``llama_decode`` call.

The KV cache is unified (one pool of cells for all sequences), so shared
prompt cells are stored once and a wave of sequences needs
``prompt tokens + sequences x new tokens`` cells.
"""

from __future__ import annotations

import ctypes
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ttscale.errors import InputError, MissingExtraError
from ttscale.logs import NativeLines

_backend_ready = threading.Lock()
_backend_initialised = False
_native_lines = NativeLines("llama_cpp")
_log_callback = None  # the ctypes callback must outlive every call llama.cpp makes to it


def _route_native_logs(llama_cpp) -> None:
    """llama.cpp's log lines -> the ``ttscale.native.llama_cpp`` logger (shown per --quiet/--verbose)."""
    global _log_callback

    @llama_cpp.llama_log_callback
    def callback(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
        _native_lines.feed(int(level), text.decode("utf-8", errors="replace"))

    _log_callback = callback
    llama_cpp.llama_log_set(_log_callback, ctypes.c_void_p(0))


def _lib():
    try:
        import llama_cpp
    except ImportError as exc:
        raise MissingExtraError(
            "'llama_cpp' is not installed; run scripts/install_llama_cpp.sh, which builds "
            "llama-cpp-python for this CPU (non-native, with AMX off: its AMX kernels crash on these CPUs)"
        ) from exc
    global _backend_initialised
    with _backend_ready:
        if not _backend_initialised:
            _route_native_logs(llama_cpp)
            llama_cpp.llama_backend_init()
            _backend_initialised = True
    return llama_cpp


@dataclass
class Entry:
    """One token of a decode batch."""

    token: int
    pos: int
    seq_ids: tuple[int, ...]
    wants_logits: bool


class LlamaEngine:
    """One model + one context + one batch buffer. Not thread-safe: one caller at a time."""

    def __init__(self, model_path: str | os.PathLike, n_ctx: int, max_seqs: int, n_threads: int, n_batch: int = 512,
                 seq_ids: int | None = None):
        """``max_seqs``: sequences decoded in one batch; ``seq_ids``: sequence ids the cache may hold at once
        (default ``max_seqs``; more lets one wave's cells be kept while the next wave's are decoded)."""
        path = Path(model_path)
        if not path.is_file():
            raise InputError(f"model path {str(path)!r} does not exist or is not a file")
        self.lib = lib = _lib()
        self.max_seqs = max_seqs
        self.n_batch = n_batch
        model_params = lib.llama_model_default_params()
        self.model = lib.llama_model_load_from_file(str(path).encode(), model_params)
        if not self.model:
            raise InputError(f"model path {str(path)!r}: llama.cpp could not load it as a GGUF model")
        self.vocab = lib.llama_model_get_vocab(self.model)
        self.n_vocab = int(lib.llama_vocab_n_tokens(self.vocab))
        self.n_ctx_train = int(lib.llama_model_n_ctx_train(self.model))

        params = lib.llama_context_default_params()
        params.n_ctx = n_ctx
        params.n_batch = max(n_batch, max_seqs)
        params.n_ubatch = max(n_batch, max_seqs)
        params.n_seq_max = seq_ids or max_seqs
        params.kv_unified = True  # shared prompt cells are stored once
        params.n_threads = n_threads
        params.n_threads_batch = n_threads
        params.no_perf = True
        self.ctx = lib.llama_init_from_model(self.model, params)
        if not self.ctx:
            lib.llama_model_free(self.model)
            raise InputError(f"llama.cpp could not create a context of {n_ctx} tokens for {str(path)!r}")
        self.n_ctx = int(lib.llama_n_ctx(self.ctx))
        self.memory = lib.llama_get_memory(self.ctx)
        self.capacity = params.n_batch
        self.batch = lib.llama_batch_init(self.capacity, 0, max_seqs)
        self._piece = ctypes.create_string_buffer(256)

    def close(self) -> None:
        lib = self.lib
        if getattr(self, "batch", None) is not None:
            lib.llama_batch_free(self.batch)
            self.batch = None
        if getattr(self, "ctx", None):
            lib.llama_free(self.ctx)
            self.ctx = None
        if getattr(self, "model", None):
            lib.llama_model_free(self.model)
            self.model = None

    def __del__(self) -> None:  # the C objects must not outlive the Python ones
        try:
            self.close()
        except Exception:
            pass

    # -- text <-> tokens ---------------------------------------------------
    def tokenize(self, text: str, add_bos: bool = True, special: bool = False) -> list[int]:
        """``special``: read special-token text (``<|im_start|>``) as those tokens, as a chat turn needs;
        a raw task prompt keeps it as plain text."""
        data = text.encode("utf-8")
        size = len(data) + 8
        while True:
            buffer = (self.lib.llama_token * size)()
            n = self.lib.llama_tokenize(self.vocab, data, len(data), buffer, size, add_bos, special)
            if n >= 0:
                return list(buffer[:n])
            size = -n

    def piece(self, token: int) -> bytes:
        n = self.lib.llama_token_to_piece(self.vocab, token, self._piece, len(self._piece), 0, False)
        if n < 0:
            buffer = ctypes.create_string_buffer(-n)
            n = self.lib.llama_token_to_piece(self.vocab, token, buffer, -n, 0, False)
            return buffer.raw[:n]
        return self._piece.raw[:n]

    def is_end(self, token: int) -> bool:
        return bool(self.lib.llama_vocab_is_eog(self.vocab, token))

    # -- decoding ---------------------------------------------------------
    def clear(self) -> None:
        self.lib.llama_memory_clear(self.memory, True)

    def drop_sequence(self, seq_id: int) -> None:
        self.lib.llama_memory_seq_rm(self.memory, seq_id, -1, -1)

    def holds_from_start(self, seq_id: int, length: int) -> bool:
        """Whether ``seq_id`` still has cells for positions 0 .. length-1 (a sliding-window cache may have
        given a sequence's old cells to others)."""
        lib = self.lib
        return (lib.llama_memory_seq_pos_min(self.memory, seq_id) == 0
                and lib.llama_memory_seq_pos_max(self.memory, seq_id) >= length - 1)

    def copy_prefix(self, source: int, target: int, length: int) -> None:
        """Give ``target`` the cells of ``source`` at positions 0 .. length-1 (shared, not duplicated)."""
        self.lib.llama_memory_seq_cp(self.memory, source, target, 0, length)

    def decode(self, entries: list[Entry], copy: bool = True) -> np.ndarray:
        """Decode a list of tokens (split into chunks that fit the batch).

        Returns the logits of the entries that asked for them, in order, as a
        (rows x vocab) float32 array. With ``copy=False`` and one chunk it is a
        view of llama.cpp's own buffer, valid only until the next decode (the
        decode loop reads it at once: no 16 MB copy per step).
        """
        rows: list[np.ndarray] = []
        for start in range(0, len(entries), self.capacity):
            chunk = entries[start : start + self.capacity]
            batch = self.batch
            batch.n_tokens = len(chunk)
            for i, entry in enumerate(chunk):
                batch.token[i] = entry.token
                batch.pos[i] = entry.pos
                batch.n_seq_id[i] = len(entry.seq_ids)
                for j, seq in enumerate(entry.seq_ids):
                    batch.seq_id[i][j] = seq
                batch.logits[i] = 1 if entry.wants_logits else 0
            status = self.lib.llama_decode(self.ctx, batch)
            if status != 0:
                raise RuntimeError(f"llama_decode failed with status {status} (KV cache full or bad batch)")
            wanted = sum(1 for e in chunk if e.wants_logits)
            if wanted:
                pointer = self.lib.llama_get_logits(self.ctx)
                block = np.ctypeslib.as_array(pointer, shape=(wanted * self.n_vocab,))
                block = block.reshape(wanted, self.n_vocab)
                single = start + self.capacity >= len(entries)
                rows.append(block if (single and not copy and not rows) else block.copy())
        if not rows:
            return np.zeros((0, self.n_vocab), dtype=np.float32)
        return np.concatenate(rows, axis=0) if len(rows) > 1 else rows[0]
