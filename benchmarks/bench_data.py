"""How long the data sets take to load: MNIST from its gzip files, each built-in set at its default size.

Prints the median of 3 runs of `load_data` (train/test split included) for each, with the
target it should meet, and writes them to benchmarks/results/data.json. The cache folder is a
fresh one: glyphs are timed as drawn (`make_glyphs`) and as read back from the cache.

    .venv/bin/python benchmarks/bench_data.py [--mnist-dir DIR] [--repeats N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _common import MNIST_DIR, write_results

from vae_core.config import DataConfig
from vae_core.data import GENERATED_SETS, load_data
from vae_core.data.glyphs import DEFAULT_SIZE, make_glyphs

MNIST_TARGET_S = 2.0
GENERATED_TARGET_S = 3.0


def median_time(load, repeats: int) -> tuple[float, int]:
    """Median seconds of `load()` and the number of examples it gave."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        examples = load()
        times.append(time.perf_counter() - start)
    return statistics.median(times), examples


def split_size(config: DataConfig) -> int:
    split = load_data(config)
    return len(split.train) + len(split.test)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--mnist-dir", default=str(MNIST_DIR), help="folder with the four MNIST .gz files"
    )
    parser.add_argument("--repeats", type=int, default=3)
    arguments = parser.parse_args()
    os.environ["VAE_STUDIO_CACHE_DIR"] = tempfile.mkdtemp()

    # Drawn first: `load_data` then reads the glyphs from the cache.
    cases = {
        "glyphs drawn (no cache)": (lambda: len(make_glyphs(DEFAULT_SIZE)), GENERATED_TARGET_S)
    }
    for name in GENERATED_SETS:
        label = "glyphs (from the cache)" if name == "glyphs" else f"{name} (default size)"
        cases[label] = (lambda name=name: split_size(DataConfig(dataset=name)), GENERATED_TARGET_S)
    if Path(arguments.mnist_dir).is_dir():
        mnist = DataConfig(dataset="mnist", data_dir=arguments.mnist_dir)
        cases["mnist (from gzip)"] = (lambda: split_size(mnist), MNIST_TARGET_S)
    else:
        print(f"skipping MNIST: {arguments.mnist_dir} not found", file=sys.stderr)

    results = {}
    print(f"{'data set':28} {'examples':>9} {'median s':>9} {'target s':>9}")
    for label, (load, target) in cases.items():
        seconds, examples = median_time(load, arguments.repeats)
        results[label] = {
            "median_s": round(seconds, 4),
            "examples": examples,
            "target_s": target,
            "meets_target": seconds < target,
        }
        print(
            f"{label:28} {examples:>9,} {seconds:>9.3f} {target:>9.1f}{'' if seconds < target else '  SLOW'}"
        )

    write_results("data", {"repeats": arguments.repeats, "results": results})
    return 0 if all(result["meets_target"] for result in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
