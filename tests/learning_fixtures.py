"""Helpers for the learning-loop tests: the example generator, and ledgers holding generated histories."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from types import ModuleType

from clientrules import Ledger

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "learning_history.jsonl"


def generator() -> ModuleType:
    """``examples/generate_history.py`` as a module (examples/ is not a package)."""
    spec = importlib.util.spec_from_file_location("generate_history", REPO / "examples" / "generate_history.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def build_db(path: Path, *, clients: int | None = None) -> Path:
    """A SQLite ledger at ``path`` holding the example (``clients=None``) or a smaller generated history."""
    source = EXAMPLE
    if clients is not None:
        module = generator()
        source = path.with_suffix(".jsonl")
        module.write(module.generate(clients=clients), source)
    with Ledger.open(str(path)) as ledger:
        ledger.import_jsonl(source)
    return path


def copy_db(template: Path, target: Path) -> str:
    """A private copy of a closed ledger file, so a test can change it."""
    shutil.copyfile(template, target)
    return str(target)
