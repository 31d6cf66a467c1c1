"""The live window against headless training, in one process: same data, model and steps.

Prints and writes to benchmarks/results/window.json:
- seconds from pressing Train to the first curves the instant a window appears, in a fresh
  process (as `make run` opens it): the very first launch, which draws the built-in glyphs, and a
  later one, which reads them from the cache folder; and in a window open for 3 s;
- images/s headless and in the window (offscreen, every view updating), run alternately so that
  load from other processes hits both alike; their ratio (target >= 0.9). Both train on the
  threads the window's training gets, torch's default;
- the event loop's lag while the window trains: a 10 ms timer's lateness, 99th percentile
  (target < 50 ms);
- the GUI thread's CPU time while the window trains, as a share of the run's wall time.

Run: .venv/bin/python benchmarks/bench_window.py [--steps 800] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
from _common import write_results  # noqa: E402
from PySide6.QtCore import QEventLoop, QSettings, Qt, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from app.main_window import MainWindow  # noqa: E402
from app.workers import TRAINING_THREADS, use_torch_threads  # noqa: E402
from vae_core.config import DataConfig, ModelConfig, RunConfig, TrainConfig  # noqa: E402
from vae_core.training.trainer import Trainer  # noqa: E402

LAG_TIMER_MS = 10


def bench_config(steps: int) -> RunConfig:
    return RunConfig(
        data=DataConfig(dataset="glyphs"),
        model=ModelConfig(arch="mlp", hidden=(400,), latent_dim=2),
        train=TrainConfig(batch_size=128, max_steps=steps, seed=0, device="cpu", log_every=50),
    )


def wait_until(condition, timeout_s: float) -> None:
    """Run the event loop, as the app does, until `condition()` holds (checked every 5 ms)."""
    deadline = time.perf_counter() + timeout_s
    loop = QEventLoop()
    check = QTimer()
    check.setInterval(5)

    def check_condition() -> None:
        if condition() or time.perf_counter() > deadline:
            loop.quit()

    check.timeout.connect(check_condition)
    check.start()
    loop.exec()
    check.stop()
    if not condition():
        raise TimeoutError("the window did not get there in time")


def new_window(config: RunConfig) -> MainWindow:
    window = MainWindow()
    window.controls.apply_config(config)
    window.resize(1400, 900)
    window.show()
    return window


def seconds_to_first_curves(window: MainWindow, open_for_s: float) -> float:
    """Press Train `open_for_s` after the window opened; seconds until the curves show points."""
    opened = time.perf_counter()
    wait_until(lambda: time.perf_counter() >= opened + open_for_s, open_for_s + 1)
    shown: list[float] = []

    def note_curves() -> None:
        if len(window.curves.series) and not shown:
            shown.append(time.perf_counter())

    window.viewsRefreshed.connect(note_curves)
    pressed = time.perf_counter()
    window.run_actions.train_button.click()
    wait_until(lambda: bool(shown), 60)
    window.viewsRefreshed.disconnect(note_curves)
    window.runs.stop()
    wait_until(lambda: not window.state.run.status.training, 10)
    return shown[0] - pressed


def headless_images_per_s(config: RunConfig, split) -> float:
    """The same training as the window's, on a thread of its own as there (a thread's count is its
    own: this one, the GUI thread, keeps what the window set)."""
    rates: list[float] = []

    def train() -> None:
        use_torch_threads(TRAINING_THREADS)
        trainer = Trainer(config, split)
        started = time.perf_counter()
        for _ in trainer.run():
            pass
        rates.append(trainer.step * config.train.batch_size / (time.perf_counter() - started))

    thread = threading.Thread(target=train, name="headless-training")
    thread.start()
    thread.join()
    return rates[0]


def window_images_per_s(window: MainWindow, config: RunConfig) -> tuple[float, list[float], float]:
    """Train in the window; images/s from the run's start to its end, the timer's lags (s), and
    the GUI thread's CPU time as a share of the run's wall time."""
    times: dict[str, float] = {}
    ticks: list[float] = []
    timer = QTimer()
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.setInterval(LAG_TIMER_MS)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))

    def note_start(*_) -> None:
        times["started"] = time.perf_counter()
        times["gui_cpu_started"] = time.thread_time()

    window.runs.runStarted.connect(note_start)
    window.controls.apply_config(config)
    timer.start()
    window.train()
    wait_until(lambda: not window.state.run.status.training and "started" in times, 600)
    ended = time.perf_counter()
    gui_cpu = time.thread_time() - times["gui_cpu_started"]
    timer.stop()
    window.runs.runStarted.disconnect(note_start)
    during = np.array([t for t in ticks if times["started"] <= t <= ended])
    lags = np.clip(np.diff(during) - LAG_TIMER_MS / 1000, 0, None)
    wall = ended - times["started"]
    return (
        window.state.run.latest.step * config.train.batch_size / wall,
        lags.tolist(),
        gui_cpu / wall,
    )


def pressed_at_once_in_a_new_process(cache_folder: str) -> float:
    """Seconds to the first curves, Train pressed as the window appears, in a fresh process."""
    environment = {**os.environ, "VAE_STUDIO_CACHE_DIR": cache_folder}
    finished = subprocess.run(
        [sys.executable, __file__, "--pressed-at-once"],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(finished.stdout.splitlines()[-1])["seconds"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=800, help="training steps per measured run")
    parser.add_argument(
        "--rounds", type=int, default=5, help="rounds of a headless run then a window run"
    )
    parser.add_argument(
        "--pressed-at-once",
        action="store_true",
        help="only time a Train pressed as the window appears",
    )
    arguments = parser.parse_args()
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, tempfile.mkdtemp())
    os.environ["VAE_STUDIO_RUNS_DIR"] = (
        tempfile.mkdtemp()
    )  # the window's run folders, not the user's
    application = QApplication.instance() or QApplication([sys.argv[0]])
    config = bench_config(arguments.steps)
    if arguments.pressed_at_once:
        window = new_window(config)
        print(json.dumps({"seconds": seconds_to_first_curves(window, open_for_s=0.0)}))
        window.close()  # ends the stopped run's job, which would otherwise wait for a Continue
        return 0

    cache_folder = tempfile.mkdtemp()
    first_launch = pressed_at_once_in_a_new_process(cache_folder)
    later_launch = pressed_at_once_in_a_new_process(cache_folder)
    window = new_window(config)
    warm = seconds_to_first_curves(window, open_for_s=3.0)
    print(
        f"Train -> curves, pressed as the window appears: {first_launch:.2f} s at the first launch, "
        f"{later_launch:.2f} s at a later one; pressed after 3 s open: {warm:.2f} s (target < 0.5 s at a later launch)"
    )

    split = window.runs.data.get(config.data)
    headless, live, lags, gui_shares = [], [], [], []
    for round_number in range(arguments.rounds):
        headless.append(headless_images_per_s(config, split))
        images_per_s, round_lags, gui_share = window_images_per_s(window, config)
        live.append(images_per_s)
        lags.extend(round_lags)
        gui_shares.append(gui_share)
        print(
            f"round {round_number + 1}: headless {headless[-1]:,.0f} img/s, window {live[-1]:,.0f} img/s, "
            f"GUI thread CPU {100 * gui_share:.1f}% of the run's time"
        )
    window.close()
    application.processEvents()

    ratios = [w / h for w, h in zip(live, headless)]
    lag_p99_ms = 1000 * float(np.percentile(lags, 99))
    results = {
        "config": config.to_dict(),
        "steps_per_run": arguments.steps,
        "rounds": arguments.rounds,
        "torch_threads": TRAINING_THREADS,
        "train_to_curves_s": {
            "pressed_at_once_first_launch": first_launch,
            "pressed_at_once_later_launch": later_launch,
            "pressed_after_3s": warm,
        },
        "headless_images_per_s": headless,
        "window_images_per_s": live,
        "headless_images_per_s_median": statistics.median(headless),
        "window_images_per_s_median": statistics.median(live),
        "ratio_per_round": ratios,
        "ratio_median": statistics.median(ratios),
        "gui_thread_cpu_share_per_round": gui_shares,
        "gui_thread_cpu_share_median": statistics.median(gui_shares),
        "event_loop_lag_ms": {
            "p50": 1000 * float(np.percentile(lags, 50)),
            "p99": lag_p99_ms,
            "max": 1000 * float(np.max(lags)),
            "ticks": len(lags),
        },
        "cpus": os.cpu_count(),
        "load_average_after": os.getloadavg(),
    }
    print(
        f"images/s median: headless {results['headless_images_per_s_median']:,.0f}, "
        f"window {results['window_images_per_s_median']:,.0f}; median of the rounds' ratios {results['ratio_median']:.3f} "
        "(target >= 0.9)"
    )
    print(
        f"GUI thread's CPU time while training: median {100 * results['gui_thread_cpu_share_median']:.1f}% of the run's time"
    )
    print(
        f"event-loop lag while training: p50 {results['event_loop_lag_ms']['p50']:.1f} ms, p99 {lag_p99_ms:.1f} ms (target < 50 ms)"
    )
    write_results("window", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
