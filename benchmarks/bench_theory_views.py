"""The seed's views on a 784-400-2 model: each one's refresh, from the change that asks for it to
its new picture drawn (target < 100 ms each).

A window (offscreen) trains an MLP 400 with a 2-D latent for a few hundred steps on MNIST (or on
28x28 glyphs where ../shared/data/mnist is absent), then for each view in turn selects another
example of the map (or, for the aggregate posterior, takes new weights) and times:
- the true posterior's heat map with 100 and 1,000 importance samples (until `layersDrawn`),
- the ELBO identity page (until `identityShown`; and until the fitted q's gap, which follows),
- the gradient estimators' study (until `studied`; it runs on a worker, paced),
- the aggregate posterior's pass after new weights: the map's layers (encode 2,000 examples,
  density, holes), and with its page's figures (KL, decodes); and their drawing,
- the rate-distortion page's redraw over the run's history, and the Compare runs plot's redraw
  with 5 runs of 2,000 rows;
- opening a shipped lesson and applying one of its steps that trains nothing.
Each figure is a median over the rounds; the workers run on one torch thread, as in the window.

Prints, and writes benchmarks/results/theory_views.json.
Run: .venv/bin/python benchmarks/bench_theory_views.py [--rounds 7] [--steps 400]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from _common import write_results  # noqa: E402
from PySide6.QtCore import QEventLoop, QSettings, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from app.controllers.model_jobs import Answer  # noqa: E402
from app.controllers.worker_model import WeightsSource  # noqa: E402
from app.lessons.lessons import lesson_files, read_lesson, write_lesson  # noqa: E402
from app.main_window import MainWindow  # noqa: E402
from vae_core.config import DataConfig, ModelConfig, RunConfig, TrainConfig  # noqa: E402
from vae_core.figures.aggregate import AggregateRequest, refresh_aggregate  # noqa: E402

MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
TIMEOUT_S = 30.0


def wait_for(signal, action) -> float:
    """Seconds from `action()` to `signal`'s next emission, the event loop running meanwhile."""
    loop = QEventLoop()
    heard = []

    def hear(*_) -> None:
        heard.append(True)
        loop.quit()

    signal.connect(hear)
    QTimer.singleShot(int(TIMEOUT_S * 1000), loop.quit)
    started = time.perf_counter()
    action()
    if not heard:
        loop.exec()
    seconds = time.perf_counter() - started
    signal.disconnect(hear)
    if not heard:
        raise SystemExit(f"no answer within {TIMEOUT_S:.0f} s")
    return seconds


def settle() -> None:
    QApplication.processEvents()


def train(window: MainWindow, steps: int) -> str:
    dataset = "mnist" if (MNIST / "train-images-idx3-ubyte.gz").exists() else "glyphs"
    config = RunConfig(
        data=DataConfig(dataset=dataset, data_dir=str(MNIST) if dataset == "mnist" else None),
        model=ModelConfig(family="vae", arch="mlp", hidden=(400,), latent_dim=2),
        train=TrainConfig(batch_size=128, max_steps=steps, seed=0, device="cpu"),
    )
    window.controls.apply_config(config)
    wait_for(window.runs.runEnded, window.train)
    while window.state.shown.explorer.encoded is None:
        settle()
    return dataset


def select(window: MainWindow, index: int) -> None:
    window.explorer.select(index)


def show_tab(window: MainWindow, title: str) -> None:
    tabs = window.view_tabs
    tabs.setCurrentIndex(next(i for i in range(tabs.count()) if tabs.tabText(i) == title))
    settle()


def median_ms(values: list[float]) -> float:
    return 1000 * statistics.median(values)


def time_posterior_layers(window: MainWindow, rounds: int, samples: int) -> float:
    layers = window.seed.posterior_layers
    layers.count_spin.setValue(samples)
    layers.posterior_check.setChecked(True)
    layers.samples_check.setChecked(True)
    while not layers.idle:
        settle()
    times = []
    for i in range(rounds):
        times.append(wait_for(layers.layersDrawn, lambda i=i: select(window, 10 + i)))
        while not layers.idle:  # the readout's quadrature follows the layers
            settle()
    layers.posterior_check.setChecked(False)
    layers.samples_check.setChecked(False)
    return median_ms(times)


def time_identity(window: MainWindow, rounds: int) -> float:
    show_tab(window, "ELBO identity")
    identity = window.seed.identity
    identities, gaps = [], []
    for i in range(rounds):
        started = time.perf_counter()
        identities.append(wait_for(identity.identityShown, lambda i=i: select(window, 30 + i)))
        wait_for(identity.gapShown, lambda: None)  # the fitted q's gap follows, from the same job
        gaps.append(time.perf_counter() - started)
    return median_ms(identities), median_ms(gaps)


def time_gradients(window: MainWindow, rounds: int) -> float:
    show_tab(window, "Gradient estimators")
    page = window.seed.gradients
    times = []
    for i in range(rounds):
        while page.busy:
            settle()
        times.append(wait_for(page.studied, lambda i=i: select(window, 50 + i)))
    return median_ms(times)


def time_aggregate(window: MainWindow, rounds: int, page: bool) -> tuple[float, float]:
    """A pass after new weights (on a worker in the window; here on this thread): the map's layers
    (encode the examples, density, holes), with the page's figures too where `page`; and drawing it."""
    layers = window.seed.aggregate
    layers.density_check.setChecked(True)
    layers.holes_check.setChecked(True)
    if page:
        show_tab(window, "Aggregate posterior")
    shown, state = window.state.shown, window.state.shown.explorer
    copies = window.model_jobs.copies
    passes, draws = [], []
    torch.set_num_threads(1)  # as the window's job runs it
    # The first round builds the jobs' model copy, which the window keeps; each round is new
    # weights (a generation of its own), loaded into the copy as the window's job does.
    for round_ in range(rounds + 1):
        source = WeightsSource(shown.model.config.model, shown.weights, -1 - round_)
        request = AggregateRequest(
            examples=state.examples,
            components=None,
            plane=state.plane,
            visible_range=window.explorer.map.visible_range(),
            holes=True,
            page=page,
            label=state.label,
        )
        started = time.perf_counter()
        with copies.lease(source) as model:
            answer = refresh_aggregate(model, request)
        passes.append(time.perf_counter() - started)
        started = time.perf_counter()
        layers._draw(Answer(request, answer, source.generation))
        window.explorer.map.plot.repaint()
        layers.page.repaint()
        draws.append(time.perf_counter() - started)
    passes, draws = passes[1:], draws[1:]
    layers.density_check.setChecked(False)
    layers.holes_check.setChecked(False)
    return median_ms(passes), median_ms(draws)


def time_redraw(widget, refresh, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        refresh()
        widget.repaint()
        times.append(time.perf_counter() - started)
    return median_ms(times)


def time_compare(window: MainWindow, rounds: int) -> float:
    runs = window.seed.runs.state
    rows = window.state.run.history.table.rows
    repeats = int(np.ceil(2000 / len(rows)))
    long_rows = np.concatenate([rows] * repeats)[:2000].copy()
    long_rows[:, 0] = np.arange(len(long_rows))
    config = window.state.run.config
    for beta in (0.5, 1.0, 2.0, 4.0, 8.0):
        runs.add(
            f"β {beta}",
            dataclasses.replace(config, train=dataclasses.replace(config.train, beta=beta)),
            long_rows * (1 + beta / 100),
        )
    show_tab(window, "Compare runs")
    return time_redraw(window.seed.compare, window.seed.compare.refresh, rounds)


def time_lesson(window: MainWindow, rounds: int) -> tuple[float, float]:
    """Opening a shipped lesson (read on a worker, its set-up and first step applied) and applying
    one of its steps that trains nothing."""
    lessons = window.seed.lessons
    # Lesson 3 without its training, so that each round times the set-up, not a run.
    shipped = read_lesson(lesson_files()["03-elbo-identity"])
    path = write_lesson(
        Path(tempfile.mkdtemp()) / "lesson.toml",
        dataclasses.replace(
            shipped, steps=[dataclasses.replace(step, train=None) for step in shipped.steps]
        ),
    )
    opens, steps = [], []
    for _ in range(rounds):
        opens.append(wait_for(lessons.lessonOpened, lambda: lessons.open(path)))
        steps.append(wait_for(lessons.stepApplied, lambda: lessons.apply_step(3)))
        lessons.leave()
    return median_ms(opens), median_ms(steps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=400)
    arguments = parser.parse_args()
    # Settings and the window's run folders in throwaway places, not the user's.
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, tempfile.mkdtemp())
    os.environ["VAE_STUDIO_RUNS_DIR"] = tempfile.mkdtemp()
    application = QApplication.instance() or QApplication([])
    window = MainWindow()
    window.resize(1400, 900)
    window.show()
    dataset = train(window, arguments.steps)
    select(window, 5)
    rounds = arguments.rounds
    figures = {
        "model": f"vae mlp 784-400-2 on {dataset}, {arguments.steps} steps",
        "rounds": rounds,
        "load_average": os.getloadavg()[0],
        "posterior_layers_k100_ms": time_posterior_layers(window, rounds, 100),
        "posterior_layers_k1000_ms": time_posterior_layers(window, rounds, 1000),
        "gradient_study_ms": time_gradients(window, rounds),
    }
    figures["identity_ms"], figures["identity_with_fitted_gap_ms"] = time_identity(window, rounds)
    figures["aggregate_layers_pass_ms"], figures["aggregate_layers_draw_ms"] = time_aggregate(
        window, rounds, False
    )
    figures["aggregate_page_pass_ms"], figures["aggregate_page_draw_ms"] = time_aggregate(
        window, rounds, True
    )
    show_tab(window, "Rate–distortion")
    figures["rate_distortion_redraw_ms"] = time_redraw(
        window.seed.rate_distortion, window.seed.rate_distortion.refresh, rounds
    )
    figures["compare_runs_redraw_ms"] = time_compare(window, rounds)
    figures["lesson_open_ms"], figures["lesson_step_ms"] = time_lesson(window, rounds)
    for name, value in figures.items():
        print(f"{name:>28}: {value:.1f}" if isinstance(value, float) else f"{name:>28}: {value}")
    write_results("theory_views", figures)
    window.close()
    application.processEvents()


if __name__ == "__main__":
    main()
