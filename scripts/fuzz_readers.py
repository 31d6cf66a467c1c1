#!/usr/bin/env python
"""Fuzz every reader of the user's files (tests/reader_fuzz.py) with many examples, and time it.

    python scripts/fuzz_readers.py [--examples N]

runs N examples of each reader (default 1,000: 11,000 in all) and prints a Markdown table of
each reader's examples, how many read and how many were refused in one line, and the seconds;
any other outcome (a traceback, an error of another type) stops it with that example.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from reader_fuzz import READERS, Reader, read_allowing_only_our_errors  # noqa: E402


def fuzz(reader: Reader, examples: int) -> dict[str, int]:
    counts = {"read": 0, "refused": 0}

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(example=reader.inputs())
    def check(example):
        folder = Path(tempfile.mkdtemp(prefix="fuzz-"))
        try:
            counts[read_allowing_only_our_errors(reader, example, folder)] += 1
        finally:
            shutil.rmtree(folder)

    check()
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=1000, help="examples of each reader")
    examples = parser.parse_args().examples
    print("| reader | examples | read | refused in one line | seconds |")
    print("|---|---:|---:|---:|---:|")
    total, started = 0, time.perf_counter()
    for reader in READERS:
        began = time.perf_counter()
        counts = fuzz(reader, examples)
        count = sum(counts.values())
        total += count
        print(
            f"| {reader.name} | {count:,} | {counts['read']:,} | {counts['refused']:,} |"
            f" {time.perf_counter() - began:.1f} |",
            flush=True,
        )
    print(f"| **all** | **{total:,}** | | | **{time.perf_counter() - started:.1f}** |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
