"""How long the data sets take to load: MNIST from its gzip files, each built-in set at its default size.

Prints the median of 3 runs of `load_data` (train/test split included) for each, with the
target it should meet, and writes them to benchmarks/results/data.json.

    .venv/bin/python benchmarks/bench_data.py [--mnist-dir DIR] [--repeats N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from _common import MNIST_DIR, write_results
from vae_core.config import DataConfig
from vae_core.data import GENERATED_SETS, load_data

MNIST_TARGET_S = 2.0
GENERATED_TARGET_S = 3.0


def median_load_time(config: DataConfig, repeats: int) -> tuple[float, int]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        split = load_data(config)
        times.append(time.perf_counter() - start)
    return statistics.median(times), len(split.train) + len(split.test)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist-dir", default=str(MNIST_DIR), help="folder with the four MNIST .gz files")
    parser.add_argument("--repeats", type=int, default=3)
    arguments = parser.parse_args()

    cases = {f"{name} (default size)": (DataConfig(dataset=name), GENERATED_TARGET_S) for name in GENERATED_SETS}
    if Path(arguments.mnist_dir).is_dir():
        cases["mnist (from gzip)"] = (DataConfig(dataset="mnist", data_dir=arguments.mnist_dir), MNIST_TARGET_S)
    else:
        print(f"skipping MNIST: {arguments.mnist_dir} not found", file=sys.stderr)

    results = {}
    print(f"{'data set':28} {'examples':>9} {'median s':>9} {'target s':>9}")
    for label, (config, target) in cases.items():
        seconds, examples = median_load_time(config, arguments.repeats)
        results[label] = {"median_s": round(seconds, 4), "examples": examples, "target_s": target, "meets_target": seconds < target}
        print(f"{label:28} {examples:>9,} {seconds:>9.3f} {target:>9.1f}{'' if seconds < target else '  SLOW'}")

    write_results("data", {"repeats": arguments.repeats, "results": results})
    return 0 if all(result["meets_target"] for result in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
