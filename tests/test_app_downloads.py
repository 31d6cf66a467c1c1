"""Downloads started from the window: a non-modal progress dialog, and a one-line error when
they fail (files served by a local server; see test_data_mnist for the fixtures)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QProgressDialog, QPushButton
from test_data_mnist import server, tiny_mnist  # noqa: F401 (fixtures)

from vae_core.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from vae_core.data import cache_dir
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
        window.dataLoaded,
        timeout=SIGNAL_TIMEOUT_MS,
        check_params_cb=lambda name, error: name == "mnist",
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


def test_a_failed_download_shows_one_line_and_the_window_goes_on(
    qtbot, window, tiny_mnist, monkeypatch
):  # noqa: F811
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


def test_cancelling_a_download_started_by_the_combo_leaves_no_partial_file(
    qtbot, window, tiny_mnist, monkeypatch
):  # noqa: F811
    monkeypatch.setenv(MIRRORS_VARIABLE, f"{tiny_mnist.base}/good/")

    # As the dialog's Cancel does, from the first progress report on (any thread may cancel).
    def cancel(_done, _total):
        window.runs.data.cancel_downloads()

    window.runs.dataProgress.connect(cancel, Qt.ConnectionType.DirectConnection)
    # The window's own preload of the built-in set may end meanwhile: wait for MNIST's answer.
    with qtbot.waitSignal(
        window.dataLoaded,
        timeout=SIGNAL_TIMEOUT_MS,
        check_params_cb=lambda name, error: name == "mnist",
    ) as loaded:
        window.controls.dataset_combo.setCurrentText("mnist")
    assert loaded.args[0] == "mnist" and "download cancelled" in loaded.args[1]
    assert not any(
        path.name.endswith(".part") or ".tmp" in path.name
        for path in (cache_dir() / "mnist").glob("*")
    )
    assert "download cancelled" in window.statusBar().currentMessage()
    # Chosen again, the data set downloads: the cancel was for that download only.
    window.runs.dataProgress.disconnect(cancel)
    window.controls.dataset_combo.setCurrentText("glyphs")
    with qtbot.waitSignal(
        window.dataLoaded,
        timeout=SIGNAL_TIMEOUT_MS,
        check_params_cb=lambda name, error: name == "mnist",
    ) as loaded:
        window.controls.dataset_combo.setCurrentText("mnist")
    assert loaded.args == ["mnist", ""]


def test_the_download_dialog_has_a_cancel_button_that_cancels(qtbot, window, monkeypatch):
    cancelled = []
    monkeypatch.setattr(window.runs.data, "cancel_downloads", lambda: cancelled.append(True))
    window.messages = type(window.messages)(window, window.runs.data.cancel_downloads)
    window.messages.show_download_progress(1_000, 10_000)
    dialog = window.messages.download_dialog
    button = dialog.findChild(QPushButton)
    assert button is not None and button.isVisible()
    button.click()
    assert cancelled == [True]
    window.messages.hide_download_progress()
