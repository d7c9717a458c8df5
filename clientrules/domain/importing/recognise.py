"""Which preset a CSV export comes from, told by its header when only one preset fits it."""

from __future__ import annotations

from clientrules.domain.importing.mapping import PRESETS, ImportRefused, Mapping, preset
from clientrules.domain.importing.reading import HEADER_SEARCH_ROWS, match_columns, missing_fields, split_rows


def recognise(text: str) -> Mapping:
    """The preset whose columns fit the file's header best, if one fits better than every other.

    A preset fits when the header has every column it requires; of those, the
    one that finds the most of its columns wins. A tie is refused: the owner names the preset.
    """
    scores: dict[str, int] = {}
    for name in PRESETS:
        mapping = preset(name)
        for row in split_rows(text, mapping)[:HEADER_SEARCH_ROWS]:
            columns = match_columns(row, mapping)
            if not missing_fields(columns, mapping):
                scores[name] = max(scores.get(name, 0), len(columns))
    if not scores:
        raise ImportRefused(["the file's header fits no preset: name one with --from, or describe it with --map MAPPING.toml"])
    best = max(scores.values())
    winners = sorted(name for name, score in scores.items() if score == best)
    if len(winners) > 1:
        raise ImportRefused([f"the file's header fits {' and '.join(winners)} alike: name one with --from"])
    return preset(winners[0])
