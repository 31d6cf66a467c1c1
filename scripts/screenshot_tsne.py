"""The README's t-SNE map (resources/readme/tsne_map.png): the real window, offscreen, opens a run
of an MNIST model with a latent above 2-D, chooses t-SNE for the map's plane and hovers a point.

    .venv/bin/python main.py train --out RUN_DIR --dataset mnist --data-dir DIR --latent-dim 8 \\
        --hidden 256 --epochs 2
    .venv/bin/python scripts/screenshot_tsne.py RUN_DIR [--out resources/readme/tsne_map.png]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from PySide6.QtCore import QSettings  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from app.main_window import MainWindow  # noqa: E402
from app.state import PLANE_TSNE  # noqa: E402

# The example hovered: the first test image of this class.
HOVERED_LABEL = 3


def settle_until(app: QApplication, ready, timeout_s: float = 300.0) -> None:
    """Process events until `ready()` (t-SNE of 2,000 codes takes seconds on a busy machine)."""
    deadline = time.perf_counter() + timeout_s
    while not ready():
        if time.perf_counter() > deadline:
            raise TimeoutError("the window did not get there in time")
        app.processEvents()
        time.sleep(0.01)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a run folder of a model with a latent above 2-D")
    parser.add_argument("--out", type=Path, default=ROOT / "resources/readme/tsne_map.png")
    args = parser.parse_args()
    # A fresh window: not the user's settings, layout or list of runs.
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, tempfile.mkdtemp())
    os.environ["VAE_STUDIO_RUNS_DIR"] = tempfile.mkdtemp()
    app = QApplication.instance() or QApplication([])
    window = MainWindow()
    window.resize(1500, 950)
    window.show()
    window.open_checkpoint(args.run / "checkpoint.safetensors")
    state = window.explorer.state
    settle_until(app, lambda: state.encoded is not None)
    window.explorer.map.plane_combo.setCurrentText(PLANE_TSNE)
    settle_until(app, lambda: state.embedding is not None)
    hovered = int(np.flatnonzero(state.examples.labels.numpy() == HOVERED_LABEL)[0])
    window.explorer.map.pointHovered.emit(hovered)
    settle_until(app, lambda: True)
    window.grab().save(str(args.out))
    print(f"wrote {args.out}")
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
