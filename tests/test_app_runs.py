"""Compare runs: the Runs list fills from the window's runs and from run folders, ticked runs overlay
their curves with the config differences as the legend, and the list comes back next session."""

from __future__ import annotations

import csv
import dataclasses
from datetime import datetime

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QDockWidget, QTreeWidget, QWidget

from app.main_window import MainWindow
from app.runs.run_folders import folder_name, read_run_folder
from app.runs.runs_panel import RunsComparePage
from app.state.runs import RunsState
from vae_core.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from vae_core.errors import VaeStudioError
from vae_core.metrics_columns import METRICS_COLUMNS
from vae_core.run_folder import CHECKPOINT_NAME, CONFIG_NAME, METRICS_NAME
from vae_core.run_labels import config_differences, describe_setting, legend_texts
from vae_core.run_record import write_run_folder

SIGNAL_TIMEOUT_MS = 10_000


def tiny_config(beta: float = 1.0, max_steps: int = 20) -> RunConfig:
    return RunConfig(
        data=DataConfig(dataset="glyphs", size=600),
        model=ModelConfig(hidden=(32,), latent_dim=2),
        train=TrainConfig(
            batch_size=50,
            epochs=10,
            max_steps=max_steps,
            beta=beta,
            seed=0,
            device="cpu",
            heldout_every=0,
            log_every=5,
        ),
    )


def fake_rows(count: int, start_loss: float = 200.0) -> np.ndarray:
    rows = np.full((count, len(METRICS_COLUMNS)), np.nan)
    rows[:, METRICS_COLUMNS.index("step")] = np.arange(1, count + 1) * 10
    rows[:, METRICS_COLUMNS.index("loss")] = start_loss / np.sqrt(np.arange(1, count + 1))
    for column in ("epoch", "wall_time_s", "images_per_s", "recon", "kl", "beta", "learning_rate"):
        rows[:, METRICS_COLUMNS.index(column)] = 1.0
    return rows


def train_once(qtbot, window, config: RunConfig) -> None:
    window.controls.apply_config(config)
    with qtbot.waitSignal(window.seed.runs.folderWritten, timeout=SIGNAL_TIMEOUT_MS):
        window.train()


def runs_tree(window) -> QTreeWidget:
    # The contract's name (DESIGN.md) is the panel's; its rows are the tree's.
    panel = window.findChild(QDockWidget, "runsDock").widget()
    assert panel is window.findChild(QWidget, "runsPanel")
    return panel.findChild(QTreeWidget, "runsTree")


# The pure functions, exactly.
def test_config_differences_name_the_dotted_keys_that_differ_in_order():
    base = RunConfig()
    vamp = dataclasses.replace(base, model=dataclasses.replace(base.model, prior="vamp"))
    strong = dataclasses.replace(vamp, train=dataclasses.replace(base.train, beta=4.0))
    assert config_differences([base, base]) == []
    assert config_differences([base, vamp, strong]) == ["model.prior", "train.beta"]
    # A key one config sets and another leaves unset (None is not written) differs too.
    seeded = dataclasses.replace(base, data=dataclasses.replace(base.data, size=600))
    assert config_differences([base, seeded]) == ["data.size"]
    # How long a run goes and on what is no difference of the model: not the window's "until
    # stopped" budget of 10^12 steps against a command-line run's epochs, nor the device.
    until_stopped = dataclasses.replace(
        base, train=dataclasses.replace(base.train, max_steps=10**12, epochs=3, device="cpu")
    )
    assert config_differences([base, until_stopped]) == []
    # What a run fills in from its data is not a difference of its own.
    shaped = dataclasses.replace(
        base, model=dataclasses.replace(base.model, input_shape=(1, 28, 28))
    )
    assert config_differences([base, shaped]) == []


def test_legend_texts_join_each_runs_differing_values():
    base = RunConfig()
    vamp = dataclasses.replace(
        base, model=dataclasses.replace(base.model, prior="vamp", hidden=(64, 32))
    )
    strong = dataclasses.replace(vamp, train=dataclasses.replace(base.train, beta=4.0))
    assert legend_texts([base, vamp, strong]) == [
        "prior normal, hidden 400, β 1",
        "prior vamp, hidden 64-32, β 1",
        "prior vamp, hidden 64-32, β 4",
    ]
    assert legend_texts([base, None]) == ["", ""]
    assert legend_texts([base]) == [""]
    assert describe_setting("model.family", "hvae") == "hvae"
    assert describe_setting("train.beta", 0.25) == "β 0.25"
    assert describe_setting("model.codebook_ema", True) == "codebook ema on"


def test_the_state_gives_colours_ticks_and_the_compared_sequence():
    state = RunsState()
    base = RunConfig()
    strong = dataclasses.replace(base, train=dataclasses.replace(base.train, beta=4.0))
    compared = []
    state.compared.connect(compared.append)
    first = state.add("run 1", base, fake_rows(3))
    second = state.add("run 2", strong, fake_rows(4))
    third = state.add("run 3", base, fake_rows(2), checked=False)
    assert len({first.colour, second.colour, third.colour}) == 3
    names = [name for name, _colour, _rows in compared[-1]]
    assert names == ["β 1", "β 4"]
    state.set_checked(third, True)
    # Two runs alike are told apart by their names.
    assert [name for name, _, _ in compared[-1]] == ["β 1 (run 1)", "β 4", "β 1 (run 3)"]
    state.remove(second)
    assert [name for name, _, _ in compared[-1]] == ["run 1", "run 3"]
    assert compared[-1][0][1] == first.colour and compared[-1][0][2] is first.rows
    # A freed colour goes to the next run.
    assert state.add("run 4", None).colour == second.colour


# Folders, without a window.
def test_a_written_folder_reads_back_its_rows_and_config(tmp_path):
    config = tiny_config()
    assert folder_name(datetime(2026, 12, 1, 18, 0, 5), config) == "20261201-180005-vae-glyphs"
    own_data = dataclasses.replace(config, data=DataConfig(dataset="folder:/home/me/my digits"))
    assert (
        folder_name(datetime(2026, 12, 1, 18, 0, 5), own_data)
        == "20261201-180005-vae-folder__home_me_my_digits"
    )
    rows = fake_rows(5)
    folder = write_run_folder(tmp_path / "runs" / "a-run", config, rows, None)
    assert folder == tmp_path / "runs" / "a-run" and (folder / CONFIG_NAME).is_file()
    run = read_run_folder(folder)
    assert run.config == config
    np.testing.assert_allclose(run.rows, rows, rtol=1e-5)  # eight figures, as the CLI writes


@pytest.mark.parametrize("damage", ["missing", "no metrics", "empty metrics", "corrupt checkpoint"])
def test_a_bad_folder_is_one_line(tmp_path, damage):
    folder = write_run_folder(tmp_path / "run", tiny_config(), fake_rows(3), None)
    if damage == "missing":
        folder = tmp_path / "gone"
    elif damage == "no metrics":
        (folder / METRICS_NAME).unlink()
    elif damage == "empty metrics":
        (folder / METRICS_NAME).write_text(",".join(METRICS_COLUMNS) + "\n")
    else:
        (folder / CHECKPOINT_NAME).write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    with pytest.raises(VaeStudioError) as raised:
        read_run_folder(folder)
    assert "\n" not in str(raised.value) and str(folder) in str(raised.value)


# In the window.
def test_two_runs_become_two_rows_and_overlay_with_the_differences_as_legend(qtbot, shown_window):
    window = shown_window(tiny_config())
    train_once(qtbot, window, tiny_config(beta=1.0))
    train_once(qtbot, window, tiny_config(beta=4.0))
    tree = runs_tree(window)
    assert tree.topLevelItemCount() == 2
    assert [tree.topLevelItem(i).text(0) for i in range(2)] == [
        "run 1 · vae glyphs",
        "run 2 · vae glyphs",
    ]
    assert [tree.topLevelItem(i).text(1) for i in range(2)] == ["β 1", "β 4"]  # what differs
    assert tree.topLevelItem(0).text(2) == "20"  # steps
    assert "train.beta = 4" in tree.topLevelItem(1).toolTip(0)
    for index in range(2):
        assert tree.topLevelItem(index).checkState(0) == Qt.CheckState.Checked
    # Two runs ended within a second are written apart.
    assert len({entry.folder for entry in window.seed.runs.state.entries}) == 2

    page = window.findChild(RunsComparePage)
    window.view_tabs.setCurrentWidget(page)
    page.refresh()
    curves = list(page.curves.values())
    assert len(curves) == 2
    assert curves[0].opts["pen"].color() != curves[1].opts["pen"].color()
    assert [curve.name() for curve in curves] == ["β 1", "β 4"]
    assert [label.text for _, label in page.legend.items] == ["β 1", "β 4"]
    x, y = curves[1].getData()
    rows = window.seed.runs.state.entries[1].rows
    np.testing.assert_array_equal(x, rows[:, 0])
    np.testing.assert_array_equal(y, rows[:, METRICS_COLUMNS.index("loss")])

    combo = window.findChild(QComboBox, "runsCompareTermCombo")
    combo.setCurrentIndex(combo.findData("kl"))
    page.refresh()
    _, kl = page.curves[window.seed.runs.state.entries[0].id].getData()
    np.testing.assert_array_equal(
        kl, window.seed.runs.state.entries[0].rows[:, METRICS_COLUMNS.index("kl")]
    )
    # The rate-distortion plane draws the run the window trained as "this run", and the other ticked one.
    window.view_tabs.setCurrentWidget(window.seed.rate_distortion)
    (other,) = window.seed.rate_distortion._other_items
    assert other.name() == "β 1"

    # Unticking a row takes its curve off the plot.
    tree.topLevelItem(0).setCheckState(0, Qt.CheckState.Unchecked)
    page.refresh()
    assert len(page.curves) == 1 and page.curves.keys() == {window.seed.runs.state.entries[1].id}


def test_a_run_folder_holds_the_runs_metrics_and_a_checkpoint(qtbot, shown_window):
    window = shown_window(tiny_config())
    train_once(qtbot, window, tiny_config())
    entry = window.seed.runs.state.entries[0]
    folder = entry.folder
    assert folder.parent.name == "runs" and folder.name.endswith("-vae-glyphs")
    with (folder / METRICS_NAME).open() as handle:
        written = list(csv.reader(handle))
    table = window.state.run.history.table
    assert written[0] == list(METRICS_COLUMNS) and len(written) - 1 == len(table) == len(entry.rows)
    assert [int(row[0]) for row in written[1:]] == [int(step) for step in table.rows[:, 0]]
    np.testing.assert_allclose([float(row[4]) for row in written[1:]], table.rows[:, 4], rtol=1e-5)
    # The checkpoint opens as any other, with the run's last weights.
    with qtbot.waitSignal(window.checkpoints.opened, timeout=SIGNAL_TIMEOUT_MS):
        window.open_checkpoint(folder / CHECKPOINT_NAME)


def test_a_run_continued_after_stop_rewrites_its_folder(qtbot, shown_window):
    window = shown_window(tiny_config(max_steps=100_000))
    window.controls.apply_config(tiny_config(max_steps=100_000))
    with qtbot.waitSignal(window.runs.snapshotReady, timeout=SIGNAL_TIMEOUT_MS):
        window.train()
    with qtbot.waitSignal(window.seed.runs.folderWritten, timeout=SIGNAL_TIMEOUT_MS) as first:
        window.runs.stop()
    steps_first = window.seed.runs.state.entries[0].steps
    window.runs.continue_run()
    with qtbot.waitSignal(window.runs.snapshotReady, timeout=SIGNAL_TIMEOUT_MS):
        pass
    with qtbot.waitSignal(window.seed.runs.folderWritten, timeout=SIGNAL_TIMEOUT_MS) as second:
        window.runs.stop()
    assert first.args == second.args
    assert len(window.seed.runs.state.entries) == 1
    assert read_run_folder(second.args[0]).rows[-1, 0] > steps_first


def test_opening_a_folder_adds_a_row_and_a_bad_one_says_one_line(qtbot, shown_window, tmp_path):
    window = shown_window(tiny_config())
    folder = write_run_folder(tmp_path / "cli-run", tiny_config(beta=2.0), fake_rows(6), None)
    with qtbot.waitSignal(window.seed.runs.folderOpened, timeout=SIGNAL_TIMEOUT_MS):
        window.seed.runs.open_folder(folder)
    tree = runs_tree(window)
    assert tree.topLevelItemCount() == 1 and tree.topLevelItem(0).text(0) == "cli-run"
    assert tree.topLevelItem(0).text(2) == "60"

    # A followed folder is listed too.
    followed = write_run_folder(tmp_path / "followed", tiny_config(beta=3.0), fake_rows(2), None)
    with qtbot.waitSignal(window.seed.runs.folderOpened, timeout=SIGNAL_TIMEOUT_MS):
        assert window.files.follow(followed)
    window.files.stop_following()
    assert [tree.topLevelItem(i).text(0) for i in range(2)] == ["cli-run", "followed"]
    assert [tree.topLevelItem(i).text(1) for i in range(2)] == ["β 2", "β 3"]

    broken = write_run_folder(tmp_path / "broken", tiny_config(), fake_rows(2), None)
    (broken / CHECKPOINT_NAME).write_bytes(b"not a checkpoint at all")
    with qtbot.waitSignal(window.errorShown, timeout=SIGNAL_TIMEOUT_MS) as shown:
        window.seed.runs.open_folder(broken)
    assert str(broken) in shown.args[0] and "\n" not in shown.args[0]
    assert tree.topLevelItemCount() == 2


def test_the_list_of_folders_comes_back_next_session(qtbot, shown_window, tmp_path):
    window = shown_window(tiny_config())
    train_once(qtbot, window, tiny_config())
    opened = write_run_folder(tmp_path / "opened", tiny_config(beta=3.0), fake_rows(4), None)
    vanishing = write_run_folder(tmp_path / "vanishing", tiny_config(), fake_rows(4), None)
    for folder in (opened, vanishing):
        with qtbot.waitSignal(window.seed.runs.folderOpened, timeout=SIGNAL_TIMEOUT_MS):
            window.seed.runs.open_folder(folder)
    runs_tree(window).topLevelItem(1).setCheckState(0, Qt.CheckState.Unchecked)
    written = window.seed.runs.state.entries[0].folder
    window.close()
    for name in (METRICS_NAME, CONFIG_NAME):
        (vanishing / name).unlink()
    vanishing.rmdir()

    again = MainWindow()
    qtbot.addWidget(again)
    shown = []
    again.errorShown.connect(shown.append)
    with qtbot.waitSignal(again.seed.runs.restored, timeout=SIGNAL_TIMEOUT_MS):
        pass
    assert shown == ["1 run folder dropped from the Runs list (1 no longer there)"]
    entries = again.seed.runs.state.entries
    assert [entry.folder for entry in entries] == [written, opened]
    assert [entry.checked for entry in entries] == [True, False]
    assert entries[1].config.train.beta == 3.0
    again.close()


def test_closed_views_do_no_work_and_open_ones_follow_the_run(qtbot, shown_window):
    window = shown_window(tiny_config(max_steps=100_000))
    page = window.findChild(RunsComparePage)
    controller = window.seed.runs
    with qtbot.waitSignal(window.runs.snapshotReady, timeout=SIGNAL_TIMEOUT_MS):
        window.train()
    for _ in range(3):
        with qtbot.waitSignal(window.runs.snapshotReady, timeout=SIGNAL_TIMEOUT_MS):
            pass
    entry = controller.state.entries[0]
    # Neither the list nor the page is open: the run's rows are not followed, nothing is drawn.
    assert not controller._follow_timer.isActive() and len(entry.rows) == 0 and not page.curves
    window.seed.docks["runsDock"].show()
    qtbot.waitUntil(lambda: len(entry.rows) > 3, timeout=SIGNAL_TIMEOUT_MS)
    assert controller._follow_timer.isActive()
    window.view_tabs.setCurrentWidget(page)
    qtbot.waitUntil(lambda: len(page.curves) == 1 and len(page.curves[entry.id].getData()[0]) > 3)
    window.seed.docks["runsDock"].hide()
    window.view_tabs.setCurrentWidget(window.curves)
    assert not controller._follow_timer.isActive()
    with qtbot.waitSignal(controller.folderWritten, timeout=SIGNAL_TIMEOUT_MS):
        window.runs.stop()


def test_a_window_run_that_asks_for_tensorboard_writes_its_events(qtbot, shown_window):
    event_accumulator = pytest.importorskip(
        "tensorboard.backend.event_processing.event_accumulator"
    )
    config = tiny_config()
    config = dataclasses.replace(config, train=dataclasses.replace(config.train, tensorboard=True))
    window = shown_window(config)
    train_once(qtbot, window, config)
    entry = window.seed.runs.state.entries[0]
    events = event_accumulator.EventAccumulator(
        str(entry.folder / "tensorboard"), size_guidance={"scalars": 0}
    )
    events.Reload()
    steps = [event.step for event in events.Scalars("train/loss")]
    assert steps == [int(step) for step in entry.rows[:, 0]]
    projector = entry.folder / "tensorboard" / "projector_config.pbtxt"
    assert "test_codes" in projector.read_text()
