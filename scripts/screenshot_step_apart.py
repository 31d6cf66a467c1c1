"""The README's picture of a training step taken apart: resources/readme/step_apart.png.

Opens the real window offscreen, trains a small MLP VAE on the built-in glyphs for a few hundred
steps, selects a test image, presses Step apart and Phase up to the gradient, and grabs the map
with its phase row:

    .venv/bin/python scripts/screenshot_step_apart.py [--steps 300] [--out resources/readme]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PySide6.QtCore import QEventLoop, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication, QPushButton  # noqa: E402

from app.main_window import MainWindow  # noqa: E402
from app.state import RunStatus  # noqa: E402
from vae_core.config import DataConfig, ModelConfig, RunConfig, TrainConfig  # noqa: E402
from vae_core.training.step_apart import PHASES  # noqa: E402

# Event-loop turns of 100 ms waited at most for the run (and for each phase).
MAX_TURNS = 6000


def wait_until(condition) -> None:
    for _ in range(MAX_TURNS):
        if condition():
            return
        loop = QEventLoop()
        QTimer.singleShot(100, loop.quit)
        loop.exec()
    raise SystemExit("the window did not get there: no screenshot")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--out", type=Path, default=Path("resources/readme"))
    args = parser.parse_args()
    application = QApplication.instance() or QApplication([])
    window = MainWindow()
    window.controls.apply_config(
        RunConfig(
            data=DataConfig(dataset="glyphs", size=3000),
            model=ModelConfig(hidden=(128,), latent_dim=2),
            train=TrainConfig(batch_size=64, max_steps=args.steps, lr=3e-3, seed=0, device="cpu"),
        )
    )
    window.resize(1600, 1000)
    window.show()
    window.findChild(QPushButton, "trainButton").click()
    wait_until(lambda: window.state.run.status is RunStatus.FINISHED)
    window.explorer.select(3)
    step_apart = window.step_apart.controller.state
    window.findChild(QPushButton, "stepApartButton").click()
    wait_until(lambda: step_apart.held)
    for _ in range(PHASES.index("gradient") + 1):
        window.findChild(QPushButton, "phaseButton").click()
        wait_until(lambda: not step_apart.waiting)
    wait_until(lambda: True)
    application.processEvents()
    args.out.mkdir(parents=True, exist_ok=True)
    window.explorer.map.grab().save(str(args.out / "step_apart.png"))
    print(f"wrote {args.out / 'step_apart.png'}")
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
