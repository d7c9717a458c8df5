"""Suggestions for a word that is not one of the known ones: the one helper every validator shares (pure)."""

from __future__ import annotations

import difflib
from typing import Sequence


def did_you_mean(word: str, choices: Sequence[str]) -> str:
    """' (did you mean ...?)' naming the closest of ``choices``, or nothing."""
    close = difflib.get_close_matches(word, choices, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
