"""File > Open Recent: checkpoints opened and folders followed, newest first, at most eight, kept
between windows (the tests' QSettings live in a folder of their own: conftest); an entry opens
through the window's own open paths, and one no longer there is named in a line and dropped."""

from __future__ import annotations

import shutil

from test_app_follow_open import trained
from test_app_window import SIGNAL_TIMEOUT_MS, tiny_config

from app.main_window import MainWindow
from app.recent_files import CHECKPOINT, FOLLOWED, RECENT_COUNT, recent_entries


def titles(window) -> list[str]:
    window.recent.fill_menu()
    return [action.text() for action in window.recent.menu.actions()]


def choose(window, index: int) -> None:
    window.recent.fill_menu()
    window.recent.menu.actions()[index].trigger()


def test_opened_and_followed_come_first_and_persist_between_windows(qtbot, shown_window, tmp_path):
    window = shown_window(tiny_config())
    assert not window.recent.menu.isEnabled()  # nothing opened yet
    _, first = trained(tiny_config(max_steps=3), tmp_path, "first.safetensors")
    second = tmp_path / "second.safetensors"
    shutil.copy(first, second)
    for path in (first, second):
        with qtbot.waitSignal(window.checkpoints.opened, timeout=SIGNAL_TIMEOUT_MS):
            window.files.open(path)
    folder = tmp_path / "followed"
    folder.mkdir()
    with qtbot.waitSignal(window.files.follower.following, timeout=SIGNAL_TIMEOUT_MS):
        window.files.follow(folder)
    assert titles(window) == [
        f"Follow followed  ({tmp_path})",
        f"second.safetensors  ({tmp_path})",
        f"first.safetensors  ({tmp_path})",
    ]
    window.close()
    again = MainWindow()
    qtbot.addWidget(again)
    assert [entry.path for entry in recent_entries(again.settings)] == [
        str(folder),
        str(second),
        str(first),
    ]
    again.close()


def test_at_most_eight_are_kept_the_newest(qtbot):
    window = MainWindow()
    qtbot.addWidget(window)
    for number in range(RECENT_COUNT + 3):
        window.recent.remember(CHECKPOINT, f"/runs/{number}.safetensors")
    kept = [entry.path for entry in recent_entries(window.settings)]
    assert kept == [f"/runs/{n}.safetensors" for n in range(RECENT_COUNT + 2, 2, -1)]
    assert len(window.recent.menu.actions()) == RECENT_COUNT


def test_choosing_an_entry_opens_it_through_the_open_paths(qtbot, shown_window, tmp_path):
    window = shown_window(tiny_config())
    _, path = trained(tiny_config(max_steps=3), tmp_path, "again.safetensors")
    folder = tmp_path / "run"
    folder.mkdir()
    window.recent.remember(CHECKPOINT, str(path))
    window.recent.remember(FOLLOWED, str(folder))
    with qtbot.waitSignal(window.files.follower.following, timeout=SIGNAL_TIMEOUT_MS):
        choose(window, 0)
    assert window.files.follower.folder == folder
    with qtbot.waitSignal(window.checkpoints.opened, timeout=SIGNAL_TIMEOUT_MS):
        choose(window, 1)
    assert window.state.shown.model.path == str(path) and not window.files.follower.active


def test_an_entry_no_longer_there_is_named_and_dropped(qtbot, shown_window, tmp_path):
    window = shown_window(tiny_config())
    kept, gone = tmp_path / "kept.safetensors", tmp_path / "gone.safetensors"
    window.recent.remember(CHECKPOINT, str(kept))
    window.recent.remember(CHECKPOINT, str(gone))
    with qtbot.waitSignal(window.errorShown, timeout=SIGNAL_TIMEOUT_MS) as shown:
        choose(window, 0)
    assert shown.args[0].startswith(str(gone)) and "removed from Open Recent" in shown.args[0]
    assert [entry.path for entry in recent_entries(window.settings)] == [str(kept)]
    assert titles(window) == [f"kept.safetensors  ({tmp_path})"]
