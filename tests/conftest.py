"""Shared test set-up: Qt offscreen, user settings isolated, fixed seeds, small data."""

from __future__ import annotations

import gc
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest
import torch

from vae_core.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from vae_core.data import load_data


@pytest.fixture(autouse=True)
def _isolated_user_state(tmp_path_factory, monkeypatch):
    """Settings, caches and the random state never leak between tests or into the user's home."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
    monkeypatch.setenv("VAE_STUDIO_CACHE_DIR", str(home / "cache" / "vae-studio"))
    monkeypatch.setenv("VAE_STUDIO_RUNS_DIR", str(home / "runs"))
    torch.manual_seed(0)


@pytest.fixture(autouse=True)
def _windows_deleted_on_the_gui_thread(request):
    """After a test with widgets (pytest-qt closes them, with deleteLater, before fixtures end):
    its jobs end, then its widgets are deleted and its garbage collected here, on the GUI thread,
    with no worker running. Otherwise the last reference to a window, or to an unparented Qt
    object of its plots (pyqtgraph's menus), may die on a worker thread (a finished job's, or a
    garbage collection that a worker's allocation set off), and PySide deletes it later on the GUI
    thread in the middle of another test, holding the GIL while Qt's locks are taken: a deadlock
    with that test's workers (seen as a hung or crashed suite)."""
    yield
    if "qtbot" not in request.fixturenames:
        return
    from PySide6.QtCore import QCoreApplication, QEvent

    from app.workers import wait_for_jobs

    wait_for_jobs(timeout_s=10.0)
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    gc.collect()


@pytest.fixture(scope="session")
def small_glyphs():
    """600 glyphs split 500/100: enough to train a few hundred steps in well under a second."""
    return load_data(DataConfig(dataset="glyphs", size=600))


@pytest.fixture
def small_config() -> RunConfig:
    return RunConfig(
        data=DataConfig(dataset="glyphs", size=600),
        model=ModelConfig(hidden=(64,), latent_dim=2),
        train=TrainConfig(
            batch_size=50, max_steps=40, log_every=10, seed=0, device="cpu", heldout_every=0
        ),
    )


@pytest.fixture(autouse=True)
def _isolated_qt_settings(tmp_path_factory):
    """The window's QSettings (an INI file, see app/settings.py) go to a fresh folder per test."""
    from PySide6.QtCore import QSettings

    folder = tmp_path_factory.mktemp("qt-settings")
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(folder))


@pytest.fixture(autouse=True)
def _restored_torch_threads():
    """A window sets the thread count of the thread it is made on, the tests' (app/workers.py):
    put it back, so that no later test computes with other threads (and other rounding)."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def shown_window(qtbot):
    """Opens a MainWindow with a config in its controls; each is closed when the test ends."""
    from app.main_window import MainWindow

    windows = []

    def open_with(config: RunConfig):
        window = MainWindow()
        qtbot.addWidget(window)
        window.controls.apply_config(config)
        window.show()
        windows.append(window)
        return window

    yield open_with
    for window in windows:
        window.close()


@pytest.fixture(scope="session")
def trained_2d(small_glyphs):
    """A 2-D Gaussian VAE trained a few steps on the small glyphs: its completed config and its
    one snapshot, weights included."""
    from vae_core.training.trainer import Trainer

    config = RunConfig(
        data=DataConfig(dataset="glyphs", size=600),
        model=ModelConfig(hidden=(64,), latent_dim=2),
        train=TrainConfig(batch_size=50, max_steps=30, log_every=30, seed=0, device="cpu"),
    )
    threads = torch.get_num_threads()
    # A 64-unit network: extra threads only wait on each other on a busy machine.
    torch.set_num_threads(1)
    try:
        trainer = Trainer(config, small_glyphs)
        (snapshot,) = list(trainer.run(include_weights=True))
    finally:
        torch.set_num_threads(threads)
    return trainer.config, snapshot


@pytest.fixture
def cli_in_process(capsys):
    """`main.py ARGS` run in this process (no interpreter to start): its exit code and stderr. An
    exception the command line lets through fails the test, as a traceback would show a user."""
    from vae_core.cli import main

    def run(*arguments) -> tuple[int, str]:
        try:
            code = main([str(argument) for argument in arguments])
        except SystemExit as exit_:  # argparse's errors
            code = exit_.code
        return code, capsys.readouterr().err

    return run
