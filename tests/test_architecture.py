"""The architecture page's picture is complete: every module of the library stands in one of the layers it draws.

The picture is drawn from ``.importlinter`` (docs/hooks/architecture.py), and
``lint-imports`` checks the imports between the layers; a module outside
every layer would be checked by nothing and missing from the picture.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HOOK = REPO / "docs" / "hooks" / "architecture.py"


def hook():
    spec = importlib.util.spec_from_file_location("architecture_hook", HOOK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def modules_under(package: str) -> set[str]:
    root = REPO.joinpath(*package.split("."))
    found = set()
    for path in root.rglob("*.py"):
        parts = path.relative_to(REPO).with_suffix("").parts
        found.add(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return found


def covered(module: str, layers: list[list[str]]) -> bool:
    return any(module == layer or module.startswith(layer + ".") for row in layers for layer in row)


def test_every_module_of_the_library_is_in_a_layer():
    architecture = hook()
    contracts = architecture.read_contracts()
    outside = {
        module
        for module in modules_under("clientrules") - {"clientrules", "clientrules.__main__"}
        if not covered(module, architecture.layers(contracts["layers"]))
    }
    assert outside == set()


def test_every_part_of_the_domain_is_in_one_of_its_layers():
    architecture = hook()
    layers = architecture.layers(architecture.read_contracts()["domain-layers"])
    outside = {
        module for module in modules_under("clientrules.domain") - {"clientrules.domain"} if not covered(module, layers)
    }
    assert outside == set()


def test_the_page_draws_every_layer_with_what_its_docstring_says():
    page = hook().on_page_markdown("<!-- architecture: layers -->\n<!-- architecture: domain -->\n<!-- architecture: contracts -->")
    assert "<!--" not in page
    for name in ("survey_app", "clientrules.cli", "clientrules.ledger", "clientrules.wiring", "clientrules.domain", "suggestions"):
        assert f"│ {name}: " in page, name
    assert "The web app uses the library through its front door only" in page
