"""README screenshots, made from the real window offscreen: short training runs, then grabs.

Writes to resources/readme/: window.png (the whole window after a run), curves.png (a β change
visible on its own axis), kl_per_dim.png (collapsed dimensions in grey), reconstructions.png,
samples.png, presentation.png (F11 mode) and evaluate.png (the Evaluate page on a linear Gaussian
model, whose exact log-likelihood the estimates approach), evaluate_input.png (one input's gaps),
curves_for_slides.png (File > Export Figure: the curves on a white page, 2x), help.png (Help >
What Am I Looking At? on the Curves tab) and data_source.png (the data-source dialog previewing a
folder of PNGs), curves_points.png (two moons' negative loss on the log scale), and the seed's
views as seed_*.png (each function below says what it shows). Run: .venv/bin/python scripts/screenshots.py
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCREEN = (1600, 1000)

if "QT_QPA_PLATFORM" not in os.environ:
    screen_file = Path(tempfile.mkdtemp()) / "screen.json"
    screen_file.write_text(
        json.dumps(
            {
                "screens": [
                    {
                        "name": "readme",
                        "x": 0,
                        "y": 0,
                        "width": SCREEN[0],
                        "height": SCREEN[1],
                        "logicalDpi": 96,
                    }
                ]
            }
        )
    )
    os.environ["QT_QPA_PLATFORM"] = f"offscreen:configfile={screen_file}"
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QEventLoop, QSettings, Qt, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from app.lessons.lessons import shipped_lessons  # noqa: E402
from app.main_window import MainWindow  # noqa: E402
from app.settings import remember_data_set  # noqa: E402
from vae_core.config import DataConfig, ModelConfig, RunConfig, TrainConfig  # noqa: E402
from vae_core.data import load_data  # noqa: E402
from vae_core.defaults import defaults_for  # noqa: E402


def train(
    window: MainWindow, config: RunConfig, beta_change: tuple[int, float] | None = None
) -> None:
    """Run `config` to its end in the window; at step `beta_change[0]` set β to `beta_change[1]`."""
    window.controls.apply_config(config)

    def steer(snapshot) -> None:
        if (
            beta_change
            and snapshot.step >= beta_change[0]
            and window.controls.beta != beta_change[1]
        ):
            window.controls.set_beta(beta_change[1])

    loop = QEventLoop()
    window.runs.snapshotReady.connect(steer)
    window.runs.runEnded.connect(loop.quit)
    window.train()
    loop.exec()
    window.runs.snapshotReady.disconnect(steer)
    window.runs.runEnded.disconnect(loop.quit)
    settle(1500)  # the last weights reach the explorer, and its test examples are encoded again


def settle(milliseconds: int) -> None:
    loop = QEventLoop()
    QTimer.singleShot(milliseconds, loop.quit)
    loop.exec()


def grab(widget, path: Path) -> None:
    if not widget.grab().save(str(path)):
        raise SystemExit(f"could not write {path}")
    print(f"wrote {path.relative_to(ROOT)}")


def export_figure(window: MainWindow, name: str, path: Path, scale: float) -> None:
    """File > Export Figure's `name` to `path`, waiting for the worker that writes it."""
    figures = window.figures
    loop = QEventLoop()
    failures: list[str] = []
    figures.exported.connect(loop.quit)
    window.errorShown.connect(failures.append)
    window.errorShown.connect(loop.quit)
    figures.export_figure(name, path, scale)
    loop.exec()
    figures.exported.disconnect(loop.quit)
    window.errorShown.disconnect(failures.append)
    window.errorShown.disconnect(loop.quit)
    if failures:
        raise SystemExit(failures[0])
    print(f"wrote {path.relative_to(ROOT)}")


def show_help(window: MainWindow, path: Path) -> None:
    """Help > What Am I Looking At? for the tab on show, grabbed and closed."""
    help_for_views = window.view_help
    help_for_views.open_for_current_view()
    settle(300)
    grab(help_for_views.pages, path)
    help_for_views.pages.close()


def evaluate(window: MainWindow, examples: int, samples: int, selected: int) -> None:
    """The Evaluate page's two jobs: the test set, then the input `selected` on the map."""
    page = window.evaluation
    page.examples_spin.setValue(examples)
    page.samples_spin.setValue(samples)
    for done, start in (
        (page.evaluated, window.evaluate_model_on_show),
        (page.analyzed, window.analyze_selected_input),
    ):
        loop = QEventLoop()
        done.connect(loop.quit)
        window.explorer.select(selected)
        start()
        loop.exec()
        done.disconnect(loop.quit)
    settle(200)


def show_tab(window: MainWindow, title: str) -> None:
    tabs = window.view_tabs
    tabs.setCurrentIndex(next(i for i in range(tabs.count()) if tabs.tabText(i) == title))
    window.refresh_views()
    settle(200)


def data_source_dialog(window: MainWindow, path: Path) -> None:
    """The data-source dialog previewing a folder of PNGs in class subfolders (glyphs written out),
    with an array file of the same images among the recent data sets."""
    import numpy as np
    from PIL import Image

    workspace = Path(tempfile.mkdtemp())
    folder = workspace / "my-digits"
    glyphs = load_data(DataConfig(dataset="glyphs", size=600)).train
    for index in range(240):
        class_folder = folder / glyphs.class_names[glyphs.labels[index]]
        class_folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(glyphs.images[index, 0].numpy()).save(class_folder / f"{index:03d}.png")
    np.savez(
        workspace / "digits.npz",
        images=glyphs.images[:240, 0].numpy(),
        labels=glyphs.labels[:240].numpy(),
    )
    remember_data_set(
        window.settings, DataConfig(dataset=f"npz:{workspace / 'digits.npz'}", image_size=32)
    )
    remember_data_set(window.settings, DataConfig(dataset=f"folder:{folder}"))
    window.data_sources.open_dialog()
    dialog = window.data_sources.dialog
    loop = QEventLoop()
    window.data_sources.previewShown.connect(loop.quit)
    dialog.show_source(DataConfig(dataset=f"folder:{folder}"))
    loop.exec()
    window.data_sources.previewShown.disconnect(loop.quit)
    settle(200)
    grab(dialog, path)
    dialog.reject()


def compare_runs(window: MainWindow, path: Path) -> None:
    """Three runs apart only in β, alone in the Runs list (View > Runs) beside the "Compare runs"
    page that overlays them."""
    runs = window.seed.runs
    for entry in list(runs.state.entries):
        runs.remove(entry)
    for beta in (0.3, 1.0, 4.0):
        train(
            window,
            RunConfig(
                data=DataConfig(dataset="glyphs", size=6000),
                model=ModelConfig(hidden=(400,), latent_dim=2),
                train=TrainConfig(batch_size=128, epochs=6, beta=beta, seed=0, device="cpu"),
            ),
        )
    dock = window.seed.docks["runsDock"]
    dock.show()
    window.resizeDocks([dock], [420], Qt.Orientation.Horizontal)
    show_tab(window, "Compare runs")
    settle(400)
    region = window.views_dock.geometry().united(dock.geometry())
    if not window.grab(region).save(str(path)):
        raise SystemExit(f"could not write {path}")
    print(f"wrote {path.relative_to(ROOT)}")
    dock.hide()


def seed_prior_views(window: MainWindow, out: Path) -> None:
    """The role of the prior after the map's run (β raised live): the aggregate posterior and the
    prior's holes on the map, the Aggregate posterior page, and the Rate–distortion page."""
    layers = window.seed.aggregate
    layers.density_check.setChecked(True)
    layers.holes_check.setChecked(True)
    for _ in range(200):
        if layers.density_layer.image is not None and len(layers.holes_layer.data):
            break
        settle(50)
    grab(window.explorer.map, out / "seed_aggregate_map.png")
    show_tab(window, "Aggregate posterior")
    for _ in range(200):
        if "KL(q(z)" in layers.page.readout.text():
            break
        settle(50)
    grab(window.views_dock, out / "seed_aggregate_page.png")
    show_tab(window, "Rate–distortion")
    grab(window.views_dock, out / "seed_rate_distortion.png")
    layers.density_check.setChecked(False)
    layers.holes_check.setChecked(False)


def seed_lessons(window: MainWindow, path: Path) -> None:
    """Help > Lessons > 2 (importance sampling) after its first step's run, at its third step."""
    lessons = window.seed.lessons
    lesson = next(lesson for lesson in shipped_lessons() if lesson.title.startswith("2."))
    loop = QEventLoop()
    window.runs.runEnded.connect(loop.quit)
    lessons.start(lesson)
    loop.exec()
    window.runs.runEnded.disconnect(loop.quit)
    settle(1500)
    lessons.apply_step(3)
    settle(1000)
    grab(window, path)
    lessons.leave()


def gradient_estimators(window: MainWindow, selected: int, path: Path) -> None:
    """The "Gradient estimators" page for input `selected` of the map, once its study is drawn."""
    page = window.seed.gradients
    loop = QEventLoop()
    page.studied.connect(loop.quit)
    window.explorer.select(selected)
    show_tab(window, "Gradient estimators")
    if page.report is None:
        loop.exec()
    page.studied.disconnect(loop.quit)
    settle(100)
    grab(window.views_dock, path)


def settle_until(ready, timeout_ms: int = 20_000) -> None:
    waited = 0
    while not ready():
        if waited > timeout_ms:
            raise SystemExit("a view did not finish its refresh in time")
        settle(50)
        waited += 50


def seed_posterior(window: MainWindow, out: Path, selected: int) -> None:
    """One input's true posterior (heat map) and 100 importance samples on the map, drawn from the
    prior and from q(z|x); then the ELBO identity page with the amortization gap."""
    layers = window.seed.posterior_layers
    window.explorer.select(selected)
    x, y = window.state.shown.explorer.posterior.mean
    window.explorer.map.view_box.setRange(
        xRange=(x - 1.5, x + 1.5), yRange=(y - 1.5, y + 1.5), padding=0
    )
    layers.posterior_check.setChecked(True)
    layers.samples_check.setChecked(True)
    for proposal, name in (
        ("prior", "seed_posterior_prior.png"),
        ("posterior", "seed_posterior_q.png"),
    ):
        layers.proposal_combo.setCurrentIndex(layers.proposal_combo.findData(proposal))
        settle_until(lambda: layers.idle and "quadrature" in layers.readout.text())
        settle(200)
        grab(window.explorer.map, out / name)
    layers.posterior_check.setChecked(False)
    layers.samples_check.setChecked(False)
    show_tab(window, "ELBO identity")
    settle_until(lambda: window.seed.identity.gap is not None)
    settle(200)
    grab(window.views_dock, out / "seed_identity.png")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "resources" / "readme")
    arguments = parser.parse_args()
    arguments.out.mkdir(parents=True, exist_ok=True)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, tempfile.mkdtemp())
    os.environ["VAE_STUDIO_RUNS_DIR"] = tempfile.mkdtemp()  # the runs' folders, not the user's list
    application = QApplication.instance() or QApplication([sys.argv[0]])

    window = MainWindow()
    window.resize(1500, 940)
    window.show()
    glyphs = DataConfig(dataset="glyphs", size=6000)
    data_source_dialog(window, arguments.out / "data_source.png")

    # Many dimensions and a large β: some dimensions collapse, the bars show which.
    train(
        window,
        RunConfig(
            data=glyphs,
            model=ModelConfig(hidden=(400,), latent_dim=16),
            train=TrainConfig(batch_size=128, epochs=20, beta=6.0, seed=0, device="cpu"),
        ),
    )
    show_tab(window, "KL per dim")
    grab(window.kl_bars, arguments.out / "kl_per_dim.png")

    # The map's run: two dimensions, β raised half-way so the curves show the change.
    train(
        window,
        RunConfig(
            data=glyphs,
            model=ModelConfig(hidden=(400,), latent_dim=2),
            train=TrainConfig(batch_size=128, epochs=30, beta=1.0, seed=0, device="cpu"),
        ),
        beta_change=(700, 3.0),
    )
    show_tab(window, "Curves")
    grab(window.curves, arguments.out / "curves.png")
    grab(window, arguments.out / "window.png")
    export_figure(window, "loss_curves", arguments.out / "curves_for_slides.png", 2)
    show_help(window, arguments.out / "help.png")
    show_tab(window, "Reconstructions")
    grab(window.previews.reconstruction_page, arguments.out / "reconstructions.png")
    show_tab(window, "Samples")
    grab(window.previews.samples_page, arguments.out / "samples.png")
    seed_posterior(window, arguments.out, selected=5)
    gradient_estimators(window, 5, arguments.out / "seed_gradient_estimators.png")
    seed_prior_views(window, arguments.out)

    show_tab(window, "Curves")
    window.set_presentation_mode(True)
    settle(300)
    grab(window, arguments.out / "presentation.png")
    window.set_presentation_mode(False)

    # The bound made visible: a linear decoder with Gaussian noise has a closed-form log p(x).
    train(
        window,
        RunConfig(
            data=glyphs,
            model=ModelConfig(arch="linear", likelihood="gaussian", latent_dim=8),
            train=TrainConfig(batch_size=128, epochs=10, seed=0, device="cpu"),
        ),
    )
    show_tab(window, "Evaluate")
    evaluate(window, examples=1000, samples=1000, selected=5)
    for index, name in enumerate(("evaluate.png", "evaluate_input.png")):
        window.evaluation.result_tabs.setCurrentIndex(index)
        settle(100)
        grab(window.views_dock, arguments.out / name)

    # Two moons with their own defaults: a Gaussian likelihood's loss goes below zero, and the
    # symmetric log scale keeps it.
    train(window, defaults_for("moons"))
    show_tab(window, "Curves")
    grab(window.curves, arguments.out / "curves_points.png")
    compare_runs(window, arguments.out / "seed_compare_runs.png")
    seed_lessons(window, arguments.out / "seed_lessons.png")
    window.close()
    application.processEvents()
    return 0


if __name__ == "__main__":
    sys.exit(main())
