"""`ttscale tradeoff` and `ttscale plan` refuse unusable paths in one line, exit 2, and write nothing
(issue 11, items 9 and 12): --out naming a file, --json naming a directory (no stray temporary file),
a points file that is a directory, binary, or not UTF-8. Run through the installed `ttscale` command, so
the exit code and the absence of a traceback are the user's."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ttscale.errors import InputError
from ttscale.report.json_out import write_json

TTSCALE = Path(sys.executable).with_name("ttscale")
POINTS = "\n".join(
    ["technique,model,train_flops,infer_flops,performance"]
    + [f"t,m{i},{10 ** (18 + i)},{10 ** (10 + j)},{0.1 + 0.1 * i + 0.1 * j:.2f}" for i in range(3) for j in range(3)]
) + "\n"


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(TTSCALE), *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False,
                          env={"COLUMNS": "80", "PATH": "/usr/bin:/bin"})


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): (b"" if p.is_dir() else p.read_bytes()) for p in sorted(folder.rglob("*"))}


@pytest.fixture
def workdir(tmp_path) -> Path:
    (tmp_path / "points.csv").write_text(POINTS)
    (tmp_path / "a_file").write_text("keep me\n")
    (tmp_path / "a_dir").mkdir()
    (tmp_path / "latin1.csv").write_bytes(POINTS.replace("t,m0", "t\xe9,m0").encode("latin-1"))
    (tmp_path / "binary.csv").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    return tmp_path


PLAN = ["--inferences", "1e6", "--target", "0.3"]


@pytest.mark.parametrize(
    "args, expected",
    [
        (["tradeoff", "points.csv", "--out", "a_file"], "--out: 'a_file' is a file; give a directory"),
        (["tradeoff", "points.csv", "--out", "a_file/sub"], "--out: 'a_file/sub' lies under 'a_file', which is a file"),
        (["tradeoff", "points.csv", "--json", "a_dir"], "--json: 'a_dir' is a directory; give a file path"),
        (["plan", "--points", "points.csv", *PLAN, "--json", "a_dir"], "--json: 'a_dir' is a directory"),
        (["plan", "--points", "points.csv", *PLAN, "--json", "a_file/x.json"],
         "--json: 'a_file/x.json' lies under 'a_file', which is a file"),
        (["tradeoff", "a_dir"], "POINTS_CSV: 'a_dir' is a directory, not a points CSV file"),
        (["plan", "--points", "a_dir", *PLAN], "--points: 'a_dir' is a directory, not a points CSV file"),
        (["tradeoff", "missing.csv"], "POINTS_CSV: points file 'missing.csv' does not exist"),
        (["tradeoff", "latin1.csv"], "POINTS_CSV: 'latin1.csv' is not UTF-8 text (byte 0xe9 at offset"),
        (["plan", "--points", "latin1.csv", *PLAN], "--points: 'latin1.csv' is not UTF-8 text"),
        (["tradeoff", "binary.csv"], "POINTS_CSV: 'binary.csv' is a binary file, not a points CSV"),
        (["plan", "--points", "binary.csv", *PLAN], "--points: 'binary.csv' is a binary file"),
    ],
)
def test_unusable_paths_are_one_line_exit_2_and_nothing_written(workdir, args, expected):
    before = snapshot(workdir)
    result = run([*args, "--n-boot", "0"] if args[0] == "tradeoff" else args, workdir)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert expected in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert snapshot(workdir) == before  # nothing written, no temporary file left


def test_write_json_leaves_no_temporary_file_when_writing_fails(tmp_path, monkeypatch):
    # Fault injection: the rename into place fails (a full disk, a target replaced meanwhile).
    def refuse(source, target):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("ttscale.report.json_out.os.replace", refuse)
    with pytest.raises(InputError, match=r"--json: cannot write '.*out.json' \(No space left on device\)"):
        write_json({"a": 1}, tmp_path / "out.json")
    assert list(tmp_path.iterdir()) == []
