"""How every interleaved benchmark times its calls and what it writes: median and spread of each
variant and of their ratio per pair, the machine and its load, a JSON of every run and a Markdown
table (docs/benchmarks/).

The machine these run on is shared and noisy, so variants run interleaved (A, B, A, B, ...)
and each pair gives a ratio: load that hits one run hits its partner alike, and the spread of
the ratios says how far a figure can be trusted.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any


def spread(values: Sequence[float], digits: int = 1) -> str:
    """``median (min-max)`` of ``values``; ``-`` when there are none."""
    if not values:
        return "-"
    return f"{statistics.median(values):.{digits}f} ({min(values):.{digits}f}-{max(values):.{digits}f})"


def ratios(numerators: Sequence[float], denominators: Sequence[float]) -> list[float]:
    """Pairwise ratios (``numerators[i] / denominators[i]``), skipping zero denominators."""
    return [a / b for a, b in zip(numerators, denominators, strict=True) if b]


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by linear interpolation; nan for no values."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    position = (len(ordered) - 1) * q / 100.0
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def time_calls(call: Callable[[int], Any], count: int, warm_up: int = 3) -> tuple[list[float], float]:
    """Milliseconds of each of ``count`` calls ``call(i)`` (after ``warm_up`` untimed ones), and
    the process CPU milliseconds per call."""
    for i in range(warm_up):
        call(i)
    times = []
    cpu = time.process_time()
    for i in range(count):
        start = time.perf_counter()
        call(i)
        times.append((time.perf_counter() - start) * 1e3)
    return times, (time.process_time() - cpu) * 1e3 / count


def command_line(script: str, argv: Sequence[str] | None) -> str:
    """How to rerun the benchmark ``script`` (its ``__file__``) with these arguments (``None``:
    the process's own), as the JSON and the docs quote it."""
    arguments = list(argv) if argv is not None else sys.argv[1:]
    return " ".join(["python", f"benchmarks/{Path(script).name}", *arguments])


def add_round_arguments(
    parser: argparse.ArgumentParser,
    *,
    rounds: int | None = None,
    calls: int | None = None,
    out: Path | None = None,
) -> None:
    """``--rounds``, ``--calls`` and ``--out`` (``<out>.json``, ``<out>.md``), those given a default."""
    if rounds is not None:
        parser.add_argument("--rounds", type=int, default=rounds)
    if calls is not None:
        parser.add_argument("--calls", type=int, default=calls)
    if out is not None:
        parser.add_argument("--out", type=Path, default=out)


def environment(load_before: float, **extra: Any) -> dict[str, Any]:
    """Date, machine, load average before and now (other people's jobs), plus ``extra``."""
    return {
        "date": datetime.date.today().isoformat(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Linux {platform.release()}",
        "load_average_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        **extra,
    }


def write(out: Path, command: str, env: dict[str, Any], runs: list[Any], table: str) -> None:
    """``<out>.json`` (command, environment, every run) and ``<out>.md`` (the table)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    document = {"command": command, "environment": env, "runs": runs}
    out.with_suffix(".json").write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n")
    out.with_suffix(".md").write_text(table)


def markdown_page(lines: list[str], env: dict[str, Any]) -> str:
    """A Markdown report: ``lines``, then the environment record."""
    return "\n".join([*lines, "", f"Environment: {env}", ""])


class Report:
    """A benchmark's report, begun before it runs (the load average then); ``finish`` writes it."""

    def __init__(self, script: str, argv: Sequence[str] | None, out: Path) -> None:
        self.command = command_line(script, argv)
        self.out = out
        self.load_before = os.getloadavg()[0]

    def finish(
        self, runs: list[Any], markdown: Callable[[list[Any], str, dict[str, Any]], str], **extra: Any
    ) -> None:
        """Writes ``<out>.json`` and ``<out>.md`` (``markdown(runs, command, environment)``), prints
        the table; ``extra`` goes into the environment."""
        env = environment(self.load_before, **extra)
        table = markdown(runs, self.command, env)
        write(self.out, self.command, env, runs, table)
        print(table)


def onnxruntime_version() -> str:
    """ONNX Runtime's version for a benchmark's environment record (imported only when asked)."""
    import onnxruntime

    return onnxruntime.__version__
