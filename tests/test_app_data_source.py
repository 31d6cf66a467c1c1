"""Data from the window: the data-source dialog's previews, drops on the window, bad inputs in one
line, recent data sets and cancelled downloads (the fetch is replaced: no network is used)."""

from __future__ import annotations

import shutil
import threading
import urllib.error
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QAction, QDropEvent
from PySide6.QtWidgets import QProgressDialog, QPushButton, QToolButton
from test_app_downloads import window  # noqa: F401 (fixture: a window with a tiny run)
from test_data_mnist import FILE_NAMES, write_idx_set

from app import data_source
from app.data_source_dialog import KINDS
from vae_core.data import cache_dir
from vae_core.data import downloads as downloads_module

SIGNAL_TIMEOUT_MS = 10_000
IMAGE_FOLDER, IDX_FOLDER, NUMPY_FILE = (
    text for text, kind in KINDS.items() if kind in ("folder", "idx", "npz")
)


def write_image_folder(root: Path, classes=(("cats", 4), ("dogs", 3)), size=(12, 10)) -> Path:
    """PNG images of `size` (width, height) in one subfolder per class."""
    rng = np.random.default_rng(0)
    for name, count in classes:
        (root / name).mkdir(parents=True)
        for i in range(count):
            Image.fromarray(rng.integers(0, 256, (size[1], size[0]), dtype=np.uint8)).save(
                root / name / f"{i}.png"
            )
    return root


def write_npz(path: Path, count: int = 20) -> Path:
    rng = np.random.default_rng(0)
    np.savez(
        path,
        images=rng.integers(0, 256, (count, 8, 8), dtype=np.uint8),
        labels=np.arange(count) % 3,
    )
    return path


def open_dialog(window):
    window.findChild(QToolButton, "dataSourceButton").click()
    dialog = window.data_sources.dialog
    assert dialog.isVisible() and dialog.objectName() == "dataSourceDialog"
    return dialog


def type_path(qtbot, dialog, path: Path) -> None:
    dialog.path_edit.clear()
    qtbot.keyClicks(dialog.path_edit, str(path))
    qtbot.keyClick(dialog.path_edit, Qt.Key.Key_Return)


def preview(qtbot, window, dialog, kind: str, path: Path):
    """Choose `kind` and type `path` in the dialog; the preview once it has loaded."""
    dialog.kind_combo.setCurrentText(kind)
    with qtbot.waitSignal(window.data_sources.previewShown, timeout=SIGNAL_TIMEOUT_MS) as shown:
        type_path(qtbot, dialog, path)
    return shown.args[0]


def drop(window, path: Path) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    window.dropEvent(
        QDropEvent(
            QPointF(10, 10),
            Qt.DropAction.CopyAction,
            mime,
            Qt.MouseButton.NoButton,
            Qt.KeyboardModifier.NoModifier,
        )
    )


def train_to_the_end(qtbot, window):
    with qtbot.waitSignal(
        window.runs.runEnded, timeout=SIGNAL_TIMEOUT_MS, check_params_cb=lambda r: r == "finished"
    ):
        window.findChild(QPushButton, "trainButton").click()


def test_a_folder_is_previewed_and_ok_makes_the_next_run_train_on_it(qtbot, window, tmp_path):
    folder = write_image_folder(tmp_path / "pets")
    dialog = open_dialog(window)
    shown = preview(qtbot, window, dialog, IMAGE_FOLDER, folder)
    assert shown.config.dataset == f"folder:{folder}"
    summary = dialog.summary_label.text()
    assert "7 images of 12×10 pixels, grayscale" in summary and "2 classes: cats, dogs" in summary
    assert dialog.preview_grid.image() is not None and dialog.ok_button.isEnabled()
    # The user's own images at a chosen size and in colour.
    dialog.color_combo.setCurrentText("rgb")
    with qtbot.waitSignal(window.data_sources.previewShown, timeout=SIGNAL_TIMEOUT_MS):
        dialog.size_spin.setValue(8)
    assert "7 images of 8×8 pixels, colour" in dialog.summary_label.text()
    assert dialog.preview_grid.image().ndim == 3
    dialog.ok_button.click()
    assert not dialog.isVisible()
    assert (
        window.findChild(type(window.controls.dataset_combo), "datasetCombo").currentText()
        == f"folder:{folder}"
    )
    data = window.controls.data_config()
    assert (data.image_size, data.color, data.size) == (8, "rgb", 600)
    train_to_the_end(qtbot, window)
    used = window.state.run.config.data
    assert (used.dataset, used.image_size, used.color) == (f"folder:{folder}", 8, "rgb")


def test_an_npz_file_is_previewed_and_chosen(qtbot, window, tmp_path):
    path = write_npz(tmp_path / "arrays.npz")
    dialog = open_dialog(window)
    preview(qtbot, window, dialog, NUMPY_FILE, path)
    assert (
        "20 images of 8×8 pixels" in dialog.summary_label.text()
        and "3 classes: 0, 1, 2" in dialog.summary_label.text()
    )
    dialog.ok_button.click()
    assert window.controls.dataset_combo.currentText() == f"npz:{path}"
    train_to_the_end(qtbot, window)


def write_bad_input(tmp_path: Path, case: str) -> tuple[str, Path, str]:
    """A bad input of the data layer: the dialog's kind, its path, and what its one line says."""
    if case == "empty folder":
        (tmp_path / "empty").mkdir()
        return IMAGE_FOLDER, tmp_path / "empty", "no PNG or JPEG images"
    if case == "folder of non-images":
        (tmp_path / "texts" / "a").mkdir(parents=True)
        (tmp_path / "texts" / "a" / "notes.png").write_text("not a picture")
        return IMAGE_FOLDER, tmp_path / "texts", "not an image"
    if case == "corrupt npz":
        (tmp_path / "broken.npz").write_bytes(b"PK\x03\x04 not really a zip")
        return NUMPY_FILE, tmp_path / "broken.npz", "broken.npz"
    (tmp_path / "no-mnist").mkdir()
    dialog_kind = next(iter(KINDS))  # the MNIST family, from a folder of the user's
    return dialog_kind, tmp_path / "no-mnist", f"missing in {tmp_path / 'no-mnist'}"


@pytest.mark.parametrize(
    "case",
    ["empty folder", "folder of non-images", "corrupt npz", "MNIST folder without its files"],
)
def test_a_bad_input_shows_one_line_and_the_window_stays_usable(qtbot, window, tmp_path, case):
    kind, path, expected = write_bad_input(tmp_path, case)
    dialog = open_dialog(window)
    dialog.kind_combo.setCurrentText(kind)
    if kind == next(iter(KINDS)):
        dialog.where_combo.setCurrentIndex(1)
    with qtbot.waitSignal(window.errorShown, timeout=SIGNAL_TIMEOUT_MS) as shown:
        type_path(qtbot, dialog, path)
    message = shown.args[0]
    assert expected in message and "\n" not in message and "Traceback" not in message
    if case.startswith("MNIST"):
        assert all(name in message for name in FILE_NAMES)
    assert dialog.summary_label.text() == message and not dialog.ok_button.isEnabled()
    dialog.reject()
    train_to_the_end(qtbot, window)


def test_mnist_missing_with_no_network_says_where_its_files_go(qtbot, window, monkeypatch):
    def no_network(url, remote, stream, progress):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(downloads_module, "_fetch", no_network)
    with qtbot.waitSignal(window.errorShown, timeout=SIGNAL_TIMEOUT_MS) as shown:
        window.controls.dataset_combo.setCurrentText("mnist")
    message = shown.args[0]
    assert f"missing in {cache_dir() / 'mnist'}" in message and all(
        name in message for name in FILE_NAMES
    )
    assert "no network" in message and "\n" not in message


def test_dropped_folders_and_files_become_the_data_set(qtbot, window, tmp_path):
    folder = write_image_folder(tmp_path / "pets")
    write_idx_set(tmp_path / "digits")
    npz = write_npz(tmp_path / "arrays.npz")
    for path, name in (
        (folder, f"folder:{folder}"),
        (tmp_path / "digits", f"idx:{tmp_path / 'digits'}"),
        (npz, f"npz:{npz}"),
    ):
        with qtbot.waitSignal(
            window.dataLoaded,
            timeout=SIGNAL_TIMEOUT_MS,
            check_params_cb=lambda n, _e, name=name: n == name,
        ) as loaded:
            drop(window, path)
        assert loaded.args == [name, ""] and window.controls.dataset_combo.currentText() == name
    train_to_the_end(qtbot, window)
    assert window.state.run.config.data.dataset == f"npz:{npz}"


def test_a_dropped_bad_folder_shows_one_line(qtbot, window, tmp_path):
    (tmp_path / "empty").mkdir()
    with qtbot.waitSignal(window.errorShown, timeout=SIGNAL_TIMEOUT_MS) as shown:
        drop(window, tmp_path / "empty")
    assert "no PNG or JPEG images" in shown.args[0] and "\n" not in shown.args[0]
    (tmp_path / "notes.txt").write_text("x")
    with qtbot.waitSignal(window.errorShown, timeout=SIGNAL_TIMEOUT_MS) as shown:
        drop(window, tmp_path / "notes.txt")
    assert "not a data set" in shown.args[0]


def test_recent_data_sets_are_remembered_newest_first_and_vanished_ones_dropped(
    qtbot, shown_window, window, tmp_path
):
    folders = [write_image_folder(tmp_path / name) for name in ("first", "second")]
    for folder in folders:
        name = f"folder:{folder}"
        with qtbot.waitSignal(
            window.dataLoaded,
            timeout=SIGNAL_TIMEOUT_MS,
            check_params_cb=lambda n, _e, name=name: n == name,
        ):
            drop(window, folder)
    window.close()
    again = shown_window(window.controls.config())
    dialog = open_dialog(again)
    listed = [dialog.recent_list.item(i).text() for i in range(dialog.recent_list.count())]
    assert listed == [f"folder:{folders[1]}", f"folder:{folders[0]}"]
    with qtbot.waitSignal(again.data_sources.previewShown, timeout=SIGNAL_TIMEOUT_MS) as shown:
        dialog.recent_list.itemClicked.emit(dialog.recent_list.item(1))
    assert shown.args[
        0
    ].config.dataset == f"folder:{folders[0]}" and dialog.path_edit.text() == str(folders[0])
    # A folder that vanished is dropped with a message when the dialog next opens.
    dialog.reject()
    shutil.rmtree(folders[1])
    with qtbot.waitSignal(again.errorShown, timeout=SIGNAL_TIMEOUT_MS) as shown:
        open_dialog(again)
    assert "no longer there" in shown.args[0] and str(folders[1]) in shown.args[0]
    assert [dialog.recent_list.item(i).text() for i in range(dialog.recent_list.count())] == [
        f"folder:{folders[0]}"
    ]


def test_a_cancelled_download_leaves_no_partial_file(qtbot, window, monkeypatch):
    proceed = threading.Event()

    def slow_fetch(url, remote, stream, progress):
        """Half a file, then a wait until the test has pressed Cancel; never the network."""
        stream.write(bytes(1000))
        progress(1000, remote.size)
        proceed.wait(SIGNAL_TIMEOUT_MS / 1000)
        progress(2000, remote.size)
        raise AssertionError("the cancelled download went on")

    monkeypatch.setattr(downloads_module, "_fetch", slow_fetch)
    dialog = open_dialog(window)
    dialog.kind_combo.setCurrentIndex(1)
    with qtbot.waitSignal(window.data_sources.previewShown, timeout=SIGNAL_TIMEOUT_MS) as shown:
        dialog.kind_combo.setCurrentIndex(0)  # the MNIST family, downloaded into the cache folder
    assert (
        shown.args[0].missing == tuple(FILE_NAMES)
        and "Not downloaded yet" in dialog.summary_label.text()
    )
    assert (
        dialog.cache_label.text() == str(cache_dir() / "mnist")
        and dialog.download_button.isEnabled()
    )
    folder = cache_dir() / "mnist"
    dialog.download_button.click()

    def progress():
        return dialog.findChild(QProgressDialog, "dataDownloadDialog")

    qtbot.waitUntil(
        lambda: progress() is not None and progress().isVisible(), timeout=SIGNAL_TIMEOUT_MS
    )
    assert str(folder) in progress().labelText()
    assert [p.suffix for p in folder.iterdir()] == [".partial"]
    progress().findChild(QPushButton).click()  # Cancel
    proceed.set()
    qtbot.waitUntil(
        lambda: "download cancelled" in dialog.summary_label.text(), timeout=SIGNAL_TIMEOUT_MS
    )
    assert list(folder.iterdir()) == [] and not progress().isVisible()
    # The dialog and the window go on.
    assert dialog.download_button.isEnabled() and not dialog.ok_button.isEnabled()
    dialog.reject()
    train_to_the_end(qtbot, window)


def test_an_answer_about_a_source_left_meanwhile_is_dropped(qtbot, window, tmp_path, monkeypatch):
    slow, quick = write_image_folder(tmp_path / "slow"), write_image_folder(tmp_path / "quick")
    release = threading.Event()
    real_load = data_source.load_preview

    def load(cache, config, download, progress):
        if config.dataset == f"folder:{slow}":
            release.wait(SIGNAL_TIMEOUT_MS / 1000)
        return real_load(cache, config, download, progress)

    monkeypatch.setattr(data_source, "load_preview", load)
    sources = window.data_sources
    shown = []
    sources.previewShown.connect(shown.append)
    dialog = open_dialog(window)
    dialog.kind_combo.setCurrentText(IMAGE_FOLDER)
    type_path(qtbot, dialog, slow)
    slow_job = sources._previews.running
    preview(qtbot, window, dialog, IMAGE_FOLDER, quick)  # while the slow one is under way
    release.set()
    assert slow_job.done.wait(SIGNAL_TIMEOUT_MS / 1000)
    qtbot.waitUntil(lambda: sources._previews.idle, timeout=SIGNAL_TIMEOUT_MS)
    assert [answer.config.dataset for answer in shown] == [f"folder:{quick}"]
    assert (
        sources.state.preview.config.dataset == f"folder:{quick}"
        and str(quick) in dialog.path_edit.text()
    )


def test_open_data_set_is_in_the_file_menu_with_a_shortcut_of_its_own(qtbot, window):
    action = window.findChild(QAction, "openDataAction")
    file_menu = window.menuBar().actions()[0].menu()
    assert action in file_menu.actions() and action.shortcut().toString() == "Ctrl+D"
    shortcuts = [a.shortcut().toString() for a in window.actions() if not a.shortcut().isEmpty()]
    assert len(shortcuts) == len(set(shortcuts))
    action.trigger()
    assert window.data_sources.dialog.isVisible()
    assert (
        window.findChild(QToolButton, "dataSourceButton").accessibleName() == "Choose a data source"
    )
