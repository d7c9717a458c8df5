"""Timing and memory helpers shared by the benchmarks.

The machine is shared and noisy: variants compared in one row are timed in
interleaved rounds (A, B, A, B, ...) and each keeps its best round, so a
burst of load from elsewhere hits both sides alike.
"""

from __future__ import annotations

import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Callable, TypeVar

T = TypeVar("T")


def rss_mib(field: str = "VmRSS") -> float:
    """This process's resident memory (``VmHWM``: its peak so far), in MiB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def peak_rss_mib() -> float:
    return rss_mib("VmHWM")


def seconds(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def best_of(rounds: int, variants: dict[str, Callable[[], float]]) -> dict[str, float]:
    """Each variant's best time over ``rounds`` interleaved rounds; a variant returns the seconds it measured."""
    best = {name: float("inf") for name in variants}
    for _ in range(rounds):
        for name, run in variants.items():
            best[name] = min(best[name], run())
    return best


def in_fresh_process(function: Callable[..., T], *args: object) -> T:
    """``function(*args)`` in a new interpreter (spawned: no state, memory or engine inherited)."""
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(function, *args).result()


def per_call(action: Callable[[], object], calls: int) -> Callable[[], float]:
    """A variant for :func:`best_of`: the mean seconds of ``calls`` calls of ``action``."""

    def measured() -> float:
        started = time.perf_counter()
        for _ in range(calls):
            action()
        return (time.perf_counter() - started) / calls

    return measured
