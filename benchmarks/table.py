"""The table ``python -m benchmarks`` prints: one line per row, its target, and "met" or "missed by N%"."""

from __future__ import annotations

from benchmarks.results import Row

HEADERS = ("benchmark", "ours", "peer or limit (same run)", "ratio", "target", "result")


def format_table(rows: list[Row]) -> str:
    lines = [HEADERS]
    for row in rows:
        peer = "—" if row.peer is None else f"{row.peer_name}: {row.peer}"
        ratio = "—" if row.ratio is None else f"{row.ratio:.3g}"
        target = "—" if row.target is None else str(row.target)
        lines.append((row.name, str(row.ours), peer, ratio, target, row.result or "—"))
    widths = [max(len(line[column]) for line in lines) for column in range(len(HEADERS))]
    text = ["  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in lines]
    text.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(text)
