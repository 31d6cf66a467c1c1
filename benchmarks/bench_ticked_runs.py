"""Training in the window with the Runs list open and 14 runs ticked against none ticked: the
cost to training of the views that draw ticked runs (the Runs list, the rate-distortion plane and
Compare runs, on screen or not). The two cases alternate in one window, so that load from other
processes hits both alike; the ratio of their median images/s has a target of >= 0.9.

Run: .venv/bin/python benchmarks/bench_ticked_runs.py [--steps 800] [--rounds 4]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
from _common import write_results  # noqa: E402
from bench_window import bench_config, new_window, window_images_per_s  # noqa: E402
from PySide6.QtCore import QSettings  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from vae_core.metrics_columns import METRICS_COLUMNS  # noqa: E402

TICKED = 14
ROWS_PER_RUN = 400  # a lesson's run logged every 5 steps of 2,000


def past_run_rows(seed: int) -> np.ndarray:
    """A past run's metrics: a falling loss and its KL, at one β."""
    rng = np.random.default_rng(seed)
    rows = np.full((ROWS_PER_RUN, len(METRICS_COLUMNS)), np.nan)
    column = METRICS_COLUMNS.index
    steps = np.arange(1, ROWS_PER_RUN + 1) * 5
    rows[:, column("step")] = steps
    rows[:, column("kl")] = 5 + rng.random() * 10 + 0.1 * rng.random(ROWS_PER_RUN)
    rows[:, column("recon")] = 100 + 200 / np.sqrt(steps)
    rows[:, column("loss")] = rows[:, column("kl")] + rows[:, column("recon")]
    rows[:, column("beta")] = 0.5 + seed % 4
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=800, help="training steps per measured run")
    parser.add_argument("--rounds", type=int, default=4, help="rounds of none then 14 ticked")
    arguments = parser.parse_args()
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, tempfile.mkdtemp())
    os.environ["VAE_STUDIO_RUNS_DIR"] = tempfile.mkdtemp()
    application = QApplication.instance() or QApplication([sys.argv[0]])
    config = bench_config(arguments.steps)
    window = new_window(config)
    window.seed.docks["runsDock"].show()
    runs = window.seed.runs.state
    past = [
        runs.add(f"past run {n}", config, past_run_rows(n), checked=False) for n in range(TICKED)
    ]
    rates: dict[str, list[float]] = {"none ticked": [], f"{TICKED} ticked": []}
    for round_number in range(arguments.rounds):
        for case, ticked in ((f"{TICKED} ticked", True), ("none ticked", False)):
            for entry in past:
                runs.set_checked(entry, ticked)
            for entry in runs.entries[TICKED:]:  # the runs the rounds made, kept out
                runs.set_checked(entry, False)
            images_per_s, _, gui_share = window_images_per_s(window, config)
            rates[case].append(images_per_s)
            print(
                f"round {round_number + 1}, {case}: {images_per_s:,.0f} img/s, "
                f"GUI thread CPU {100 * gui_share:.1f}%"
            )
    window.close()
    application.processEvents()
    medians = {case: statistics.median(values) for case, values in rates.items()}
    ratio = medians[f"{TICKED} ticked"] / medians["none ticked"]
    print(f"medians: {medians}; ticked / none = {ratio:.2f} (target >= 0.9)")
    write_results(
        "ticked_runs",
        {
            "steps_per_run": arguments.steps,
            "rounds": arguments.rounds,
            "images_per_s": rates,
            "median_images_per_s": medians,
            "ratio_ticked_to_none": ratio,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
