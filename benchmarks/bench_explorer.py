"""Latent explorer speed: cursor-drag latency while training runs, and tile re-decoding after a pan.

(a) From `latentCursor.setPos` to the end of `decodedView`'s paint, with a Trainer running in a
    Python thread and its snapshots (weights included) delivered to the explorer by a queued
    signal, as the window does. Target: p95 <= 16 ms.
(b) Re-decoding the 20x20 tile grid (and the prior contours) after a zoom, and after a pan (which
    decodes only the uncovered cells). Target <= 50 ms.

    .venv/bin/python benchmarks/bench_explorer.py [--moves 300] [--views 80] [--switch-interval-ms 0.5]

Prints medians and 95th percentiles and writes benchmarks/results/explorer.json.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import threading
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
import numpy as np  # noqa: E402
from _common import write_results  # noqa: E402  (puts the project on the path)
from PySide6.QtCore import QEventLoop, QObject, Qt, QTimer, Signal  # noqa: E402
from PySide6.QtWidgets import QApplication, QHBoxLayout, QWidget  # noqa: E402

from app.controllers.explorer import LatentExplorer  # noqa: E402
from app.explorer.map_drawing import TILES_PER_SIDE  # noqa: E402
from app.state import ModelOnShow, ShownModel  # noqa: E402
from app.workers import TRAINING_THREADS, use_torch_threads  # noqa: E402
from vae_core.config import DataConfig, ModelConfig, RunConfig, TrainConfig  # noqa: E402
from vae_core.data import load_data  # noqa: E402
from vae_core.models import build_model  # noqa: E402
from vae_core.training.trainer import Trainer  # noqa: E402

# A mouse reports moves at about 60 Hz: the event loop gets this long between two moves.
MOVE_INTERVAL_S = 1 / 60


class SnapshotRelay(QObject):
    """Carries snapshots from the training thread to the GUI thread (a queued connection)."""

    snapshot = Signal(object)


class BackgroundTraining:
    def __init__(self, config: RunConfig, data, relay: SnapshotRelay):
        self.trainer = Trainer(config, data)
        self.relay = relay
        self.snapshots = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        use_torch_threads(TRAINING_THREADS)  # as the window's training thread does
        for snapshot in self.trainer.run(include_weights=True):
            self.snapshots += 1
            self.relay.snapshot.emit(snapshot)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *_):
        self.trainer.stop()
        self.thread.join(timeout=10)


def percentiles(samples_ms: list[float]) -> dict:
    values = np.asarray(samples_ms)
    return {
        "count": int(len(values)),
        "median_ms": round(float(np.median(values)), 3),
        "p95_ms": round(float(np.percentile(values, 95)), 3),
        "max_ms": round(float(values.max()), 3),
    }


def pump_for(app: QApplication, seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents()


def measure_drag(explorer, moves: int) -> tuple[list[float], list[float]]:
    """Latency of cursor moves made at 60 Hz from the event loop, until the image is painted.

    A move is timed from the tick it was due at, not from when its timer got to run: a slot
    that blocks the event loop (tiles re-decoded for new weights, say) delays a real mouse
    event just as much, and that delay counts.
    """
    decoded = explorer.side.findChild(QWidget, "decodedView")
    latencies: list[float] = []
    waits: list[float] = []  # of each move, the part spent waiting for the event loop
    due: list[float] = []
    original_paint = decoded.paintEvent

    def timed_paint(event):
        original_paint(event)
        now = time.perf_counter()
        latencies.extend((now - tick) * 1000 for tick in due)
        due.clear()

    decoded.paintEvent = timed_paint
    loop = QEventLoop()
    timer = QTimer()
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.setSingleShot(True)
    angles = np.linspace(0, 6 * np.pi, moves)
    schedule = {"next": time.perf_counter() + MOVE_INTERVAL_S}

    def move() -> None:
        index = len(latencies) + len(due)
        if index >= moves:
            loop.quit()
            return
        now = time.perf_counter()
        # The latest tick that has passed: ticks missed while the loop was blocked are merged,
        # as Qt merges queued mouse moves.
        tick = (
            schedule["next"]
            + math.floor((now - schedule["next"]) / MOVE_INTERVAL_S) * MOVE_INTERVAL_S
        )
        due.append(tick)
        waits.append((now - tick) * 1000)
        radius = 0.5 + 1.5 * index / moves
        explorer.map.cursor.setPos(radius * np.cos(angles[index]), radius * np.sin(angles[index]))
        schedule["next"] = tick + MOVE_INTERVAL_S
        timer.start(max(0, math.ceil((schedule["next"] - time.perf_counter()) * 1000)))

    timer.timeout.connect(move)
    timer.start(round(MOVE_INTERVAL_S * 1000))
    loop.exec()
    decoded.paintEvent = original_paint
    return latencies, waits


def measure_view_changes(app, explorer, count: int) -> dict[str, list[float]]:
    """Pans (a sixth of the view) and zooms (by 1.25) in turn, as a user drags and scrolls.

    For each: the time from the view change until the tiles and contours are redone (event-loop
    turns in between included), and the plot's repaint after it. A zoom changes the tile size,
    so all of the 20x20 tiles are decoded afresh; a pan decodes only the cells it uncovers.
    """
    times: dict[str, list[float]] = {"pan": [], "zoom": [], "repaint": []}
    rng = np.random.default_rng(0)
    view = explorer.map.view_box
    viewport = explorer.map.plot.viewport()
    refreshed: list[float] = []
    explorer.viewRefreshed.connect(lambda: refreshed.append(time.perf_counter()))
    view.setRange(xRange=(-3, 3), yRange=(-3, 3), padding=0)
    pump_for(app, 0.2)
    for index in range(count):
        (x0, x1), (y0, y1) = view.viewRange()
        centre, half = np.array([(x0 + x1) / 2, (y0 + y1) / 2]), max(x1 - x0, y1 - y0) / 2
        kind = "pan" if index % 2 == 0 else "zoom"
        if kind == "pan":
            angle = rng.uniform(0, 2 * np.pi)
            centre = np.clip(centre + half / 3 * np.array([np.cos(angle), np.sin(angle)]), -3, 3)
        else:
            half = float(np.clip(half * (1.25 if rng.random() < 0.5 else 0.8), 0.5, 5.0))
        before = len(refreshed)
        start = time.perf_counter()
        view.setRange(
            xRange=(centre[0] - half, centre[0] + half),
            yRange=(centre[1] - half, centre[1] + half),
            padding=0,
        )
        while len(refreshed) == before:
            app.processEvents()
        times[kind].append((refreshed[-1] - start) * 1000)
        painted = time.perf_counter()
        viewport.repaint()
        times["repaint"].append((time.perf_counter() - painted) * 1000)
        pump_for(app, 0.05)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=300)
    parser.add_argument("--views", type=int, default=80, help="pans and zooms, half each")
    parser.add_argument(
        "--switch-interval-ms",
        type=float,
        default=None,
        help="Python's GIL switch interval (default 5 ms): the GUI thread's longest wait for the GIL",
    )
    args = parser.parse_args()
    if args.switch_interval_ms:
        sys.setswitchinterval(args.switch_interval_ms / 1000)

    app = QApplication.instance() or QApplication([])
    data = load_data(DataConfig(dataset="glyphs", size=6000))
    model_config = ModelConfig(hidden=(400,), latent_dim=2)
    config = RunConfig(
        data=DataConfig(dataset="glyphs", size=6000),
        model=model_config,
        train=TrainConfig(batch_size=128, epochs=1000, log_every=10, seed=0, device="cpu"),
    )
    use_torch_threads(
        TRAINING_THREADS
    )  # this thread decodes for the explorer, as the window's does
    shown = ShownModel()
    explorer = LatentExplorer(shown)
    window = QWidget()
    layout = QHBoxLayout(window)
    layout.addWidget(explorer.map, 3)
    layout.addWidget(explorer.side, 1)
    window.resize(1200, 800)
    window.show()
    relay = SnapshotRelay()
    relay.snapshot.connect(lambda snapshot: shown.set_weights(snapshot.model_state, snapshot.step))

    with BackgroundTraining(config, data, relay) as training:
        complete = training.trainer.config
        viewer = build_model(complete.model)
        shown.show(
            ModelOnShow(complete, viewer.capabilities, "run", data.test, viewer=viewer),
            viewer.state_dict(),
        )
        pump_for(app, 2.0)  # warm up: first weights, the test set encoded
        drag, drag_waits = measure_drag(explorer, args.moves)
        training_views = measure_view_changes(app, explorer, args.views)
        snapshots, steps = training.snapshots, training.trainer.step
    idle_views = measure_view_changes(app, explorer, args.views)
    window.close()

    results = {
        "device": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": TRAINING_THREADS,
        "gil_switch_interval_ms": sys.getswitchinterval() * 1000,
        "model": "mlp 784-400-2, bernoulli, 28x28 glyphs",
        "tiles_per_side": TILES_PER_SIDE,
        "training_steps_during_benchmark": steps,
        "snapshots_with_weights": snapshots,
        "drag_latency_while_training": percentiles(drag),
        "drag_event_loop_wait_while_training": percentiles(drag_waits),
        "zoom_redecode_while_training": percentiles(training_views["zoom"]),
        "pan_redecode_while_training": percentiles(training_views["pan"]),
        "plot_repaint_while_training": percentiles(training_views["repaint"]),
        "zoom_redecode_idle": percentiles(idle_views["zoom"]),
        "pan_redecode_idle": percentiles(idle_views["pan"]),
        "plot_repaint_idle": percentiles(idle_views["repaint"]),
        "targets": {"drag_p95_ms": 16, "redecode_after_pan_or_zoom_ms": 50},
    }
    for name, figures in results.items():
        if isinstance(figures, dict) and "median_ms" in figures:
            print(
                f"{name:36s} median {figures['median_ms']:7.2f} ms   p95 {figures['p95_ms']:7.2f} ms   "
                f"max {figures['max_ms']:7.2f} ms   (n={figures['count']})"
            )
    print(f"training ran {steps} steps and sent {snapshots} snapshots meanwhile")
    # The default run writes explorer.json; a variant keeps its own file.
    variant = f"_switch{args.switch_interval_ms:g}ms" if args.switch_interval_ms else ""
    write_results(f"explorer{variant}", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
