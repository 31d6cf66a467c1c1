"""Screenshots of the latent explorer for the README: resources/readme/explorer_*.png.

Trains small models on the built-in glyphs for a few hundred steps (a minute or two on a CPU),
lays the explorer out as the window does, and grabs each view:

    .venv/bin/python scripts/screenshot_explorer.py [--steps 600] [--out resources/readme]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PySide6.QtCore import QPointF, Qt  # noqa: E402
from PySide6.QtWidgets import QApplication, QSplitter, QTabWidget, QVBoxLayout, QWidget  # noqa: E402

from app.controllers.explorer import LatentExplorer  # noqa: E402
from app.state import ModelOnShow, ShownModel  # noqa: E402
from vae_core.config import DataConfig, ModelConfig, RunConfig, TrainConfig  # noqa: E402
from vae_core.data import load_data  # noqa: E402
from vae_core.models import build_model  # noqa: E402
from vae_core.training.trainer import Trainer  # noqa: E402

DATA = DataConfig(dataset="glyphs", size=6000)
# Strokes of a hand-drawn "7" on the 224x224 drawing canvas.
SEVEN = [((60, 50), (170, 50)), ((170, 50), (95, 190))]


def train(model: ModelConfig, steps: int, data, beta: float = 1.0) -> tuple[ModelConfig, dict]:
    schedule = TrainConfig(
        batch_size=100, max_steps=steps, log_every=steps, beta=beta, seed=0, device="cpu"
    )
    config = RunConfig(data=DATA, model=model, train=schedule)
    trainer = Trainer(config, data)
    started = time.perf_counter()
    (snapshot,) = list(trainer.run(include_weights=True))
    elapsed = time.perf_counter() - started
    print(
        f"trained {model.family} (latent {model.latent_dim}) for {steps} steps in {elapsed:.0f} s"
    )
    return trainer.config.model, snapshot.model_state


class Layout:
    """The explorer as the window shows it: the map and side panel above, its pages below."""

    def __init__(self, app: QApplication):
        self.app = app
        self.shown = ShownModel()
        self.explorer = LatentExplorer(self.shown)
        self.window = QWidget()
        self.window.setWindowTitle("VAE Studio: latent explorer")
        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(self.explorer.map)
        top.addWidget(self.explorer.side)
        top.setSizes([760, 340])
        self.tabs = QTabWidget()
        for name, page in self.explorer.pages:
            self.tabs.addTab(page, name)
        layout = QVBoxLayout(self.window)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(top)
        self.splitter.addWidget(self.tabs)
        self.splitter.setSizes([640, 330])
        layout.addWidget(self.splitter)
        self.window.resize(1120, 980)
        self.window.show()

    def show(self, config: RunConfig, state: dict, test) -> None:
        viewer = build_model(config.model)
        self.shown.show(
            ModelOnShow(config, viewer.capabilities, "checkpoint", test, viewer=viewer), state
        )
        self.wait_for_codes()

    def load(self, model_config: ModelConfig, state: dict, test) -> None:
        self.show(RunConfig(data=DATA, model=model_config), state, test)
        self.settle(1.0)

    def wait_for_codes(self) -> None:
        """Until the examples on the map are encoded by the weights on show."""
        encoded = lambda: self.shown.explorer.encoded  # noqa: E731
        while encoded() is None or encoded().generation != self.shown.generation:
            self.app.processEvents()
            time.sleep(0.005)

    def watch_training(self, model: ModelConfig, steps: int, data, snapshots: int) -> None:
        """Train with the explorer fed each snapshot's weights, as the window does."""
        every = max(1, steps // snapshots)
        schedule = TrainConfig(
            batch_size=100, max_steps=steps, log_every=every, seed=0, device="cpu"
        )
        trainer = Trainer(RunConfig(data=DATA, model=model, train=schedule), data)
        self.show(trainer.config, build_model(trainer.config.model).state_dict(), data.test)
        for snapshot in trainer.run(include_weights=True):
            self.shown.set_weights(snapshot.model_state, snapshot.step)
            self.wait_for_codes()
        print(f"watched {model.family} train for {steps} steps")
        self.settle()

    def settle(self, seconds: float = 0.3) -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            self.app.processEvents()

    def page(self, name: str) -> QWidget:
        index = [title for title, _ in self.explorer.pages].index(name)
        self.tabs.setCurrentIndex(index)
        self.settle()
        return self.explorer.pages[index][1]

    def save(self, widget: QWidget, path: Path) -> None:
        self.settle()
        widget.grab().save(str(path))
        print(f"wrote {path}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).resolve().parents[1] / "resources" / "readme"
    )
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)  # tiny networks: threads only add waiting on a shared machine

    app = QApplication.instance() or QApplication([])
    data = load_data(DATA)
    view = Layout(app)
    explorer = view.explorer

    # A 2-D Gaussian VAE: the map, interpolation and drawing.
    view.load(*train(ModelConfig(hidden=(256,), latent_dim=2), args.steps, data), data.test)
    explorer.map.view_box.setRange(xRange=(-3.2, 3.2), yRange=(-3.2, 3.2), padding=0)
    labels = data.test.labels.numpy()
    pick = int(np.flatnonzero(labels == 4)[0])
    explorer.select(pick)
    explorer.map.cursor.setPos(0.8, 0.6)
    draw = view.page("Draw")
    for start, end in SEVEN:
        draw.canvas.draw_line(QPointF(*start), QPointF(*end))
    interpolation = view.page("Interpolation")
    interpolation.count_spin.setValue(12)
    interpolation.set_end("start", explorer.state.selected_code())
    interpolation.set_end("end", explorer.state.encoded.codes[int(np.flatnonzero(labels == 0)[0])])
    view.save(view.window, args.out / "explorer_map.png")
    view.save(interpolation, args.out / "explorer_interpolation.png")
    view.save(view.page("Draw"), args.out / "explorer_draw.png")

    # Eight dimensions, β = 4: the traversal rows sorted by how much each dimension carries.
    model_config, state = train(
        ModelConfig(hidden=(256,), latent_dim=8), args.steps, data, beta=4.0
    )
    view.load(model_config, state, data.test)
    explorer.traversals.steps_spin.setValue(9)
    view.splitter.setSizes([200, 770])
    view.save(view.page("Traversals"), args.out / "explorer_traversals.png")
    view.splitter.setSizes([640, 330])

    # A conditional VAE: one style in every class.
    view.load(
        *train(ModelConfig(family="cvae", hidden=(256,), latent_dim=2), args.steps, data), data.test
    )
    explorer.set_label(7)
    explorer.map.cursor.setPos(-0.5, 0.8)
    view.save(view.window, args.out / "explorer_cvae.png")

    # A VQ-VAE, watched while it trains: the codebook's perplexity over the steps.
    vq = ModelConfig(
        family="vqvae",
        hidden=(256,),
        latent_dim=4,
        code_positions=16,
        codebook_size=64,
        code_prior="categorical",
    )
    codebook = view.page("Codebook")
    view.watch_training(vq, args.steps, data, snapshots=15)
    codebook.choose_code(int(np.argmax(codebook.counts)))
    view.save(codebook, args.out / "explorer_codebook.png")
    view.save(view.window, args.out / "explorer_vqvae_map.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
