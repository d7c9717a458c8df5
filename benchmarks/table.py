"""The table ``python -m benchmarks`` prints: one line per row, pass or fail, and by how much a target is missed."""

from __future__ import annotations

from benchmarks.results import Row

HEADERS = ("benchmark", "ours", "peer or limit (same run)", "ratio", "target", "result", "miss")


def format_table(rows: list[Row]) -> str:
    lines = [HEADERS]
    for row in rows:
        peer = "—" if row.peer is None else f"{row.peer_name}: {row.peer}"
        ratio = "—" if row.ratio is None else f"{row.ratio:.3g}"
        result = {True: "pass", False: "FAIL", None: "—"}[row.passed]
        target = "—" if row.target is None else str(row.target)
        lines.append((row.name, str(row.ours), peer, ratio, target, result, row.miss))
    widths = [max(len(line[column]) for line in lines) for column in range(len(HEADERS))]
    text = ["  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in lines]
    text.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(text)
