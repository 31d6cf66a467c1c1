"""The teacher's window following a class folder of 20 runs that other processes keep writing: the
event loop's lag while it does (target p99 < 50 ms).

A writer process plays the students' windows: 20 runs (10 students, two each) that have trained
for `--history-s` seconds already when the teacher starts following, then each gains, once a
second, the rows a student's window writes in a second (about ten, the window's snapshot rate;
80 steps a second; a held-out ELBO every 500 steps), through the class folder's own writer. The
teacher's window (offscreen, shown, the Runs list and Class docks open) follows the folder while
the rate-distortion plane and Compare runs take turns on show. A 10 ms timer's lateness is the
lag, in rounds that alternate: the class writing (the measure) and the class quiet (the window
follows, nothing new comes: what the machine's other load alone costs the event loop). The first
round is the first read of every run's history.

Prints and writes benchmarks/results/class_folder.json.
Run: .venv/bin/python benchmarks/bench_class_folder.py [--seconds 60] [--history-s 120]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
from _common import write_results  # noqa: E402
from bench_window import wait_until  # noqa: E402
from PySide6.QtCore import QSettings, Qt, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from vae_core.class_folder import append_class_rows, start_class_run  # noqa: E402
from vae_core.config import DataConfig, ModelConfig, RunConfig, TrainConfig  # noqa: E402
from vae_core.metrics_columns import METRICS_COLUMNS  # noqa: E402

STUDENTS, RUNS_EACH = 10, 2
ROWS_PER_SECOND, STEPS_PER_ROW, HELDOUT_EVERY = 10, 8, 500
LAG_TIMER_MS = 10
TAB_TURN_S = 10


def student_run_config(index: int) -> RunConfig:
    return RunConfig(
        data=DataConfig(dataset="mnist"),
        model=ModelConfig(latent_dim=(2, 8)[index % 2], hidden=(400,)),
        train=TrainConfig(beta=(0.5, 1.0, 2.0, 4.0, 8.0)[index // 2 % 5], max_steps=10**12),
    )


def rows_for(index: int, first_row: int, count: int) -> np.ndarray:
    """A student's run's rows `first_row` to `first_row + count`: falling rate and distortion."""
    column = METRICS_COLUMNS.index
    rows = np.full((count, len(METRICS_COLUMNS)), np.nan)
    steps = (first_row + np.arange(1, count + 1)) * STEPS_PER_ROW
    beta = student_run_config(index).train.beta
    rows[:, column("step")] = steps
    rows[:, column("epoch")] = steps // 469
    rows[:, column("wall_time_s")] = steps / (ROWS_PER_SECOND * STEPS_PER_ROW)
    rows[:, column("images_per_s")] = 10_000.0
    rows[:, column("kl")] = (20 + index) / beta**0.5 * (1 - 1 / np.sqrt(steps))
    rows[:, column("recon")] = 90 + 400 / np.sqrt(steps) + 10 * beta
    rows[:, column("loss")] = rows[:, column("recon")] + beta * rows[:, column("kl")]
    rows[:, column("beta")] = beta
    rows[:, column("learning_rate")] = 1e-3
    heldout = steps % HELDOUT_EVERY < STEPS_PER_ROW
    rows[heldout, column("heldout_elbo")] = (
        -rows[heldout, column("recon")] - rows[heldout, column("kl")]
    )
    return rows


def write_class(folder: Path, history_rows: int, started, writing, done) -> None:
    """The students' windows: every run's history so far, then a second's rows each second
    while `writing` is set, until `done` is."""
    runs = []
    for index in range(STUDENTS * RUNS_EACH):
        student = f"student{index // RUNS_EACH + 1:02d}"
        run_name = f"run-{index % RUNS_EACH + 1}"
        rows = rows_for(index, 0, history_rows)
        runs.append(start_class_run(folder, student, run_name, student_run_config(index), rows))
    started.set()
    written, second = history_rows, time.perf_counter()
    while not done.is_set():
        if writing.is_set():
            for index, run in enumerate(runs):
                append_class_rows(run, rows_for(index, written, ROWS_PER_SECOND))
            written += ROWS_PER_SECOND
        second += 1.0
        time.sleep(max(0.0, second - time.perf_counter()))


def lag_figures(lags: list[float]) -> dict:
    lags_ms = 1000 * np.array(lags)
    return {
        "p50": float(np.percentile(lags_ms, 50)),
        "p99": float(np.percentile(lags_ms, 99)),
        "max": float(np.max(lags_ms)),
        "ticks": len(lags_ms),
    }


def follow_and_measure(folder: Path, rounds: int, round_s: float, writing) -> dict:
    """The teacher's window follows `folder`: the timer's lags in rounds, the class writing or
    quiet by turns, and what it read."""
    from app.main_window import MainWindow

    window = MainWindow()
    window.resize(1400, 900)
    window.show()
    window.seed.docks["runsDock"].show()
    polls: list[float] = []
    window.classroom.follower.polled.connect(lambda _news: polls.append(time.perf_counter()))
    pages = [window.seed.rate_distortion, window.seed.compare]
    ticks: list[float] = []
    timer = QTimer()
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.setInterval(LAG_TIMER_MS)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    window.view_tabs.setCurrentWidget(pages[0])
    lags: dict[str, list[float]] = {"first read": [], "class writing": [], "class quiet": []}
    timer.start()
    gui_cpu_started, started = time.thread_time(), time.perf_counter()
    window.classroom.follow(folder)
    for number in range(rounds * 2 + 1):
        case = "first read" if number == 0 else ("class writing", "class quiet")[number % 2 == 0]
        if case == "class writing":
            writing.set()
        else:
            writing.clear()
        window.view_tabs.setCurrentWidget(pages[number % 2])
        begin = time.perf_counter()
        wait_until(lambda end=begin + round_s: time.perf_counter() >= end, round_s + 5)
        during = np.array([tick for tick in ticks if tick >= begin])
        lags[case].extend(np.clip(np.diff(during) - LAG_TIMER_MS / 1000, 0, None).tolist())
    gui_cpu_share = (time.thread_time() - gui_cpu_started) / (time.perf_counter() - started)
    timer.stop()
    entries = window.seed.runs.state.entries
    figures = {
        "event_loop_lag_ms": {case: lag_figures(values) for case, values in lags.items()},
        "gui_thread_cpu_share": gui_cpu_share,
        "reads": len(polls),
        "runs_followed": len(entries),
        "rows_per_run_at_end": int(np.median([len(entry.rows) for entry in entries])),
        "leaderboard_rows": window.classroom.board.tree.topLevelItemCount(),
    }
    window.classroom.stop_following()
    window.close()
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds of writing, then quiet")
    parser.add_argument("--round-s", type=float, default=10, help="seconds a round")
    parser.add_argument(
        "--history-s", type=float, default=120, help="seconds each run trained before following"
    )
    arguments = parser.parse_args()
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, tempfile.mkdtemp())
    os.environ["VAE_STUDIO_RUNS_DIR"] = tempfile.mkdtemp()
    folder = Path(tempfile.mkdtemp(prefix="class-"))
    history_rows = int(arguments.history_s * ROWS_PER_SECOND)
    # A process of its own, as the students' windows are on other machines: it takes no GIL here.
    context = multiprocessing.get_context("spawn")
    started, writing, done = context.Event(), context.Event(), context.Event()
    writer = context.Process(
        target=write_class, args=(folder, history_rows, started, writing, done)
    )
    writer.start()
    started.wait(120)
    load_before = os.getloadavg()
    application = QApplication.instance() or QApplication([sys.argv[0]])
    figures = follow_and_measure(folder, arguments.rounds, arguments.round_s, writing)
    application.processEvents()
    done.set()
    writer.join()
    figures = {
        "runs": STUDENTS * RUNS_EACH,
        "rows_per_second_per_run": ROWS_PER_SECOND,
        "history_rows_per_run": history_rows,
        "rounds": arguments.rounds,
        "round_s": arguments.round_s,
        "load_average_1min_before_after": [load_before[0], os.getloadavg()[0]],
        **figures,
    }
    print(
        f"{figures['runs_followed']} runs followed ({figures['reads']} reads, "
        f"{figures['rows_per_run_at_end']} rows a run at the end, {figures['leaderboard_rows']} "
        f"on the leaderboard); GUI thread CPU {100 * figures['gui_thread_cpu_share']:.0f}%; "
        f"load average {figures['load_average_1min_before_after']}"
    )
    for case, lag in figures["event_loop_lag_ms"].items():
        print(
            f"event-loop lag, {case}: p50 {lag['p50']:.1f} ms, p99 {lag['p99']:.1f} ms, "
            f"max {lag['max']:.1f} ms over {lag['ticks']} ticks"
        )
    print("target: p99 < 50 ms with the class writing")
    write_results("class_folder", figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
