"""``python -m benchmarks``: run the benchmarks, print the table, write ``benchmarks/results.json``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from benchmarks.runner import BENCHMARKS, run_all
from benchmarks.scale import FULL, SMOKE

DEFAULT_OUTPUT = Path(__file__).with_name("results.json")


def benchmark_names(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown benchmark {unknown[0] if unknown else text!r} "
                                         f"(known: {', '.join(BENCHMARKS)})")
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Benchmarks side by side with peers and limits measured in the same run (see README, Performance).",
    )
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks that every benchmark runs (seconds)")
    parser.add_argument("--only", type=benchmark_names, metavar="NAME[,NAME]",
                        help=f"run only these ({', '.join(BENCHMARKS)})")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, metavar="PATH",
                        help="where to write the results as JSON (default: benchmarks/results.json)")
    parser.add_argument("--postgres", metavar="URL",
                        help="PostgreSQL server for the postgres benchmark (default: $CLIENTRULES_BENCH_POSTGRES, "
                             "else postgresql://postgres@127.0.0.1:5432/test; skipped if it does not answer)")
    args = parser.parse_args(argv)
    wanted = set(args.only or BENCHMARKS)
    names = [name for name in BENCHMARKS if name in wanted]
    outcome = run_all(names, SMOKE if args.smoke else FULL, args.output, postgres=args.postgres)
    return 1 if outcome.failed else 0


if __name__ == "__main__":
    sys.exit(main())
