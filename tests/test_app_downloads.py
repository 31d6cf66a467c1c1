"""Downloads started from the window: a non-modal progress dialog, and a one-line error when
they fail (files served by a local server; see test_data_mnist for the fixtures)."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QProgressDialog, QPushButton
from test_data_mnist import server, tiny_mnist  # noqa: F401 (fixtures)

from vae_core.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from vae_core.data.downloads import MIRRORS_VARIABLE

SIGNAL_TIMEOUT_MS = 10_000


@pytest.fixture
def window(shown_window):
    return shown_window(
        RunConfig(
            data=DataConfig(dataset="glyphs", size=600),
            model=ModelConfig(hidden=(16,), latent_dim=2),
            train=TrainConfig(batch_size=4, max_steps=3, seed=0, device="cpu"),
        )
    )


def test_choosing_mnist_downloads_it_with_a_progress_dialog(qtbot, window, tiny_mnist, monkeypatch):  # noqa: F811
    monkeypatch.setenv(MIRRORS_VARIABLE, f"{tiny_mnist.base}/good/")
    progress = []
    window.runs.dataProgress.connect(lambda done, total: progress.append((done, total)))
    with qtbot.waitSignal(
        window.dataLoaded, timeout=SIGNAL_TIMEOUT_MS, check_params_cb=lambda name, error: name == "mnist"
    ) as loaded:
        window.controls.dataset_combo.setCurrentText("mnist")
    assert loaded.args == ["mnist", ""]
    total = sum(len(body) for body in tiny_mnist.handler.files.values())
    assert progress[-1] == (total, total)
    dialog = window.findChild(QProgressDialog, "downloadDialog")
    assert dialog is not None and not dialog.isModal() and dialog.isHidden()
    # The files are in the cache now: training finds them without another download.
    requests = len(tiny_mnist.handler.requests)
    with qtbot.waitSignal(window.runs.runEnded, timeout=SIGNAL_TIMEOUT_MS):
        window.findChild(QPushButton, "trainButton").click()
    assert window.state.run.latest.step == 3 and len(tiny_mnist.handler.requests) == requests


def test_a_failed_download_shows_one_line_and_the_window_goes_on(qtbot, window, tiny_mnist, monkeypatch):  # noqa: F811
    monkeypatch.setenv(MIRRORS_VARIABLE, f"{tiny_mnist.base}/missing/")
    with qtbot.waitSignal(window.errorShown, timeout=SIGNAL_TIMEOUT_MS) as shown:
        window.controls.dataset_combo.setCurrentText("mnist")
    message = shown.args[0]
    assert "HTTP 404" in message and "train-images-idx3-ubyte.gz" in message and "\n" not in message
    # Back to a built-in set, the window trains as before.
    window.controls.dataset_combo.setCurrentText("glyphs")
    with qtbot.waitSignal(window.runs.runEnded, timeout=SIGNAL_TIMEOUT_MS):
        window.findChild(QPushButton, "trainButton").click()
    assert window.state.run.latest.step == 3
