"""What isolation this machine allows, probed once per uid by running a real sandbox."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from typing import Sequence

from ttscale.tasks.sandbox_bootstrap import SANDBOX_UID, SandboxSettings
from ttscale.tasks.sandbox_launch import SandboxError, launch


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

def _runs(argv: Sequence[str], timeout: float = 10.0, **kwargs) -> str | None:
    """stdout of a successful run, else None."""
    try:
        done = subprocess.run(list(argv), stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=timeout, cwd="/", **kwargs)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def _interpreter_candidates() -> list[str]:
    found: list[str] = []
    for cand in (sys.executable, os.path.realpath(sys.executable), shutil.which("python3"),
                 "/usr/bin/python3", "/usr/local/bin/python3"):
        if cand and os.path.exists(cand) and cand not in found:
            found.append(cand)
    return found


_PROBE = """
import os, socket
out = [str(os.getuid())]
try:
    socket.create_connection(("127.0.0.1", 9), timeout=1)
except OSError as exc:
    out.append("net-blocked" if exc.errno in (101, 99, 22) else "net-open")
try:
    open("/tmp/.ttscale-probe-%d" % os.getpid(), "w")
    os.remove("/tmp/.ttscale-probe-%d" % os.getpid())
    out.append("tmp-writable")
except OSError:
    out.append("tmp-readonly")
out.append("pid1" if os.getppid() == 1 else "no-pidns")
print(" ".join(out))
"""


def sandbox_capabilities(uid: int = SANDBOX_UID) -> SandboxCapabilities:
    """What isolation this machine allows (probed once per uid by running a real sandbox)."""
    return _probe(int(uid))


@functools.lru_cache(maxsize=None)
def _probe(uid: int) -> SandboxCapabilities:
    problems: list[str] = []
    root = os.geteuid() == 0
    if not root:
        problems.append("not running as root: cannot drop to an unprivileged uid or create namespaces")
    # An interpreter counts only if, run as ``uid``, it is the same Python as run by
    # us: a pyenv binary under /root (0700) may still start as ``nobody`` but then
    # silently loads the system's libpython and stdlib instead of its own.
    interpreter, drop = None, False
    version = "import sys, resource, ctypes; print(sys.version)"
    for cand in _interpreter_candidates():
        own = _runs([cand, "-I", "-S", "-c", version])
        if own is None:
            continue
        if not root:
            interpreter = cand
            break
        if _runs([cand, "-I", "-S", "-c", version], user=uid, group=uid, extra_groups=[]) == own:
            interpreter, drop = cand, True
            break
    if root and not drop:
        problems.append(f"no Python interpreter is runnable by uid {uid} (tried {_interpreter_candidates()})")
    net = pid = mnt = False
    unshare = shutil.which("unshare")
    if unshare is None:
        problems.append("'unshare' (util-linux) not found on PATH")
    elif root and drop:
        try:
            seen = launch(_PROBE, SandboxSettings(uid=uid), interpreter, isolated=True).stdout.split()
        except SandboxError as exc:
            seen = []
            problems.append(f"namespace sandbox failed: {exc}")
        net, mnt, pid = "net-blocked" in seen, "tmp-readonly" in seen, "pid1" in seen
        if seen and seen[0] != str(uid):
            drop = False
            problems.append(f"the program ran as uid {seen[0]}, not {uid}")
        for ok, what in ((net, "a new network namespace"), (mnt, "a read-only /tmp in a mount namespace"),
                         (pid, "a pid namespace")):
            if seen and not ok:
                problems.append(f"no {what}")
    return SandboxCapabilities(root=root, drop_uid=drop, net_namespace=net, pid_namespace=pid,
                               mount_namespace=mnt, interpreter=interpreter or sys.executable,
                               problems=tuple(problems))
