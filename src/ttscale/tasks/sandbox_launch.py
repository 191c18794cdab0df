"""Launching one program in the sandbox and supervising it: the subprocess, its pipes, its clock,
and the verdict read from what the bootstrap reports. ``sandbox.py`` decides *whether* and with
which settings to launch; ``sandbox_capabilities.py`` launches a probe through here too."""

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
from dataclasses import dataclass

from ttscale.errors import TtscaleError
from ttscale.tasks.sandbox_bootstrap import SandboxSettings, bootstrap_argv, kill_namespace, killpg

VERDICTS = ("pass", "fail", "timeout", "memory", "error")
_GRACE_S = 0.5  # how long to keep draining output after the end


class SandboxError(TtscaleError):
    """The sandbox itself failed (not the program): retry, never score."""


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
