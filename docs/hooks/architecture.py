"""MkDocs hook: the Architecture page's pictures, drawn at build time from ``.importlinter`` and the code.

A page writes ``<!-- architecture: layers -->`` (the library's layers, top
to bottom, each with its modules; the modules of one box are independent),
``<!-- architecture: domain -->`` (the domain's layers) or
``<!-- architecture: contracts -->`` (every rule ``lint-imports`` enforces, by its name). The layers are those import-linter
checks, and each module is described by the first sentence of its own
docstring, so the picture cannot drift from the code; ``tests/test_architecture.py``
checks that every module is in a layer.
"""

from __future__ import annotations

import ast
import configparser
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = ROOT / ".importlinter"
MARKER = re.compile(r"<!-- architecture: (?P<part>layers|domain|contracts) -->")
WIDTH = 100


def on_page_markdown(markdown: str, **_: Any) -> str:
    """Replace each marker in ``markdown`` with its picture (pages without one are returned unchanged)."""
    if not MARKER.search(markdown):
        return markdown
    contracts = read_contracts()
    return MARKER.sub(lambda match: _RENDER[match["part"]](contracts), markdown)


def read_contracts() -> dict[str, dict[str, str]]:
    """The contracts of ``.importlinter`` by their id, each a mapping of its options."""
    parser = configparser.ConfigParser()
    parser.read(CONTRACTS, encoding="utf-8")
    prefix = "importlinter:contract:"
    return {name.removeprefix(prefix): dict(parser[name]) for name in parser.sections() if name.startswith(prefix)}


def layers(contract: dict[str, str]) -> list[list[str]]:
    """The layers of a layers contract, top first, each a list of its (independent) modules, container prefixed."""
    containers = contract.get("containers", "").split()
    rows = []
    for line in contract["layers"].strip().splitlines():
        names = [name.strip() for name in line.split("|")]
        rows.append([f"{containers[0]}.{name}" if containers else name for name in names])
    return rows


def module_path(module: str) -> Path:
    """The file or package folder of a module of this repository."""
    path = ROOT.joinpath(*module.split("."))
    return path if path.is_dir() else path.with_suffix(".py")


def summary(module: str) -> str:
    """The first sentence of the module's docstring (its package's ``__init__.py`` for a package)."""
    path = module_path(module)
    source = path / "__init__.py" if path.is_dir() else path
    doc = ast.get_docstring(ast.parse(source.read_text(encoding="utf-8"))) or ""
    first = doc.strip().split("\n\n")[0].replace("\n", " ")
    sentence = re.split(r"(?<=\.)\s", first)[0].rstrip(".")
    return re.sub(r"[`*]|:[a-z]+:|~", "", sentence)


def submodules(module: str) -> list[str]:
    """The modules and packages directly inside a package (none for a module)."""
    path = module_path(module)
    if not path.is_dir():
        return []
    names = [p.stem for p in path.glob("*.py") if p.stem != "__init__"]
    names += [p.name + "/" for p in path.iterdir() if p.is_dir() and (p / "__init__.py").exists()]
    return sorted(names)


def _wrapped(text: str, indent: int) -> list[str]:
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > WIDTH - 4 - indent:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return lines + [line] if line else lines


def _boxes(rows: list[list[str]], *, short: str) -> str:
    """One box per layer, top first; a layer of independent modules lists each of them."""
    border = "─" * (WIDTH - 2)
    out = [f"┌{border}┐"]
    for number, row in enumerate(rows):
        if number:
            out.append(f"├{border}┤")
        for module in row:
            name = module.removeprefix(short)
            head = f"{name}: {summary(module)}"
            inside = submodules(module)
            body = _wrapped(head, 0) + [f"    {line}" for line in _wrapped(", ".join(inside), 4)] if inside else _wrapped(head, 0)
            out += [f"│ {line:<{WIDTH - 4}} │" for line in body]
    out.append(f"└{border}┘")
    return "```text\n" + "\n".join(out) + "\n```"


def _layers(contracts: dict[str, dict[str, str]]) -> str:
    interfaces = [["survey_app"]]
    return _boxes(interfaces + layers(contracts["layers"]), short="")


def _domain(contracts: dict[str, dict[str, str]]) -> str:
    return _boxes(layers(contracts["domain-layers"]), short="clientrules.domain.")


def _contracts(contracts: dict[str, dict[str, str]]) -> str:
    return "\n".join(f"* {contract['name']}" for contract in contracts.values())


_RENDER = {"layers": _layers, "domain": _domain, "contracts": _contracts}
