"""Griffe extension: the project's reStructuredText docstring markup, read as the Markdown the site renders.

The code's docstrings name objects with Sphinx roles (``:class:`~a.b.C```) and
introduce examples with ``::``, the way ``help()`` and IDEs show them well.
The API reference renders Markdown, so before mkdocstrings renders a
docstring, this extension turns each role into inline code (``~`` keeping the
last name only) and each ``::`` into a colon, leaving the indented example
below it as a code block. The docstrings in the code stay as they are.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:class|func|meth|mod|data|attr|exc|obj|const):`(?P<tilde>~?)(?P<target>[^`]+)`")
LITERAL_MARKER = re.compile(r"(?P<text>\S)?::$", re.MULTILINE)


def markdown_of(text: str) -> str:
    """``text`` with its Sphinx roles as inline code and its ``::`` literal markers as colons (or gone)."""
    text = ROLE.sub(lambda m: f"`{m['target'].rsplit('.', 1)[-1] if m['tilde'] else m['target']}`", text)
    return LITERAL_MARKER.sub(lambda m: f"{m['text']}:" if m["text"] else "", text)


class SphinxMarkup(griffe.Extension):
    """Rewrites every docstring griffe loads with :func:`markdown_of`."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = markdown_of(obj.docstring.value)
