"""The teacher's window following a class folder of 20 runs that other processes keep writing: the
event loop's lag while it does (target p99 < 50 ms).

A writer process plays the students' windows: 20 runs (10 students, two each) that have trained
for `--history-s` seconds already when the teacher starts following, then each gains, once a
second, the rows a student's window writes in a second (about ten, the window's snapshot rate;
80 steps a second; a held-out ELBO every 500 steps), through the class folder's own writer. The
teacher's window (offscreen, shown, the Runs list and Class docks open) follows the folder while
the rate-distortion plane and Compare runs take turns on show. A 10 ms timer's lateness over the
whole run is the lag.

Prints and writes benchmarks/results/class_folder.json.
Run: .venv/bin/python benchmarks/bench_class_folder.py [--seconds 60] [--history-s 120]
"""

from __future__ import annotations

import argparse
import itertools
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


def write_class(folder: Path, history_rows: int, seconds: float, started) -> None:
    """The students' windows: every run's history so far, then a second's rows each second."""
    runs = []
    for index in range(STUDENTS * RUNS_EACH):
        student = f"student{index // RUNS_EACH + 1:02d}"
        run_name = f"run-{index % RUNS_EACH + 1}"
        rows = rows_for(index, 0, history_rows)
        runs.append(start_class_run(folder, student, run_name, student_run_config(index), rows))
    started.set()
    written = history_rows
    begin = time.perf_counter()
    while time.perf_counter() - begin < seconds:
        for index, run in enumerate(runs):
            append_class_rows(run, rows_for(index, written, ROWS_PER_SECOND))
        written += ROWS_PER_SECOND
        time.sleep(
            max(0.0, begin + (written - history_rows) / ROWS_PER_SECOND - time.perf_counter())
        )


def follow_and_measure(folder: Path, seconds: float) -> dict:
    """The teacher's window follows `folder` for `seconds`; the timer's lags and what it read."""
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
    turn = QTimer()
    turn.setInterval(TAB_TURN_S * 1000)
    turns = itertools.count(1)
    turn.timeout.connect(lambda: window.view_tabs.setCurrentWidget(pages[next(turns) % 2]))
    window.view_tabs.setCurrentWidget(pages[0])
    gui_cpu_started, started = time.thread_time(), time.perf_counter()
    timer.start()
    turn.start()
    window.classroom.follow(folder)
    wait_until(lambda: time.perf_counter() - started >= seconds, seconds + 5)
    ended = time.perf_counter()
    gui_cpu = time.thread_time() - gui_cpu_started
    timer.stop()
    turn.stop()
    lags = np.clip(np.diff(np.array(ticks)) - LAG_TIMER_MS / 1000, 0, None)
    entries = window.seed.runs.state.entries
    figures = {
        "event_loop_lag_ms": {
            "p50": 1000 * float(np.percentile(lags, 50)),
            "p99": 1000 * float(np.percentile(lags, 99)),
            "max": 1000 * float(np.max(lags)),
            "ticks": len(lags),
        },
        "gui_thread_cpu_share": gui_cpu / (ended - started),
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
    parser.add_argument("--seconds", type=float, default=60, help="how long the teacher follows")
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
    started = context.Event()
    writer = context.Process(
        target=write_class, args=(folder, history_rows, arguments.seconds + 5, started)
    )
    writer.start()
    started.wait(120)
    load_before = os.getloadavg()
    application = QApplication.instance() or QApplication([sys.argv[0]])
    figures = follow_and_measure(folder, arguments.seconds)
    application.processEvents()
    writer.terminate()
    writer.join()
    figures = {
        "runs": STUDENTS * RUNS_EACH,
        "rows_per_second_per_run": ROWS_PER_SECOND,
        "history_rows_per_run": history_rows,
        "seconds": arguments.seconds,
        "load_average_1min_before_after": [load_before[0], os.getloadavg()[0]],
        **figures,
    }
    lag = figures["event_loop_lag_ms"]
    print(
        f"{figures['runs_followed']} runs followed over {arguments.seconds:.0f} s "
        f"({figures['reads']} reads, {figures['rows_per_run_at_end']} rows a run at the end, "
        f"{figures['leaderboard_rows']} on the leaderboard); event-loop lag p50 {lag['p50']:.1f} ms, "
        f"p99 {lag['p99']:.1f} ms, max {lag['max']:.1f} ms (target p99 < 50 ms); GUI thread CPU "
        f"{100 * figures['gui_thread_cpu_share']:.0f}%; load average "
        f"{figures['load_average_1min_before_after']}"
    )
    write_results("class_folder", figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
