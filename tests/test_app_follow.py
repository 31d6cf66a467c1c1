"""Following a run folder that another process writes: metrics.csv read as it grows, each new
checkpoint's weights on show, nothing written or locked in the folder."""

from __future__ import annotations

import numpy as np
from test_app_window import SIGNAL_TIMEOUT_MS, tiny_config

from vae_core.checkpoint import save_trainer
from vae_core.data import load_data
from vae_core.metrics_columns import METRICS_COLUMNS
from vae_core.metrics_reader import MetricsTail
from vae_core.training.trainer import Trainer

HEADER = ",".join(METRICS_COLUMNS) + "\n"


def row(step: int, loss: float) -> str:
    values = {name: 0.0 for name in METRICS_COLUMNS} | {"step": step, "loss": loss, "beta": 1.0}
    return ",".join(str(values[name]) for name in METRICS_COLUMNS) + "\n"


def test_the_tail_gives_complete_rows_once_and_starts_over_on_a_new_file(tmp_path):
    path = tmp_path / "metrics.csv"
    tail = MetricsTail(path)
    assert len(tail.read().rows) == 0  # not written yet
    path.write_text(
        "step,loss,a_column_of_the_future\n1,5.0,7\n2,4.5,7\n3,4."
    )  # the writer is mid-row
    read = tail.read()
    assert read.rows[:, METRICS_COLUMNS.index("step")].tolist() == [1.0, 2.0] and not read.restarted
    assert read.rows[:, METRICS_COLUMNS.index("loss")].tolist() == [5.0, 4.5]
    assert np.isnan(read.rows[:, METRICS_COLUMNS.index("kl")]).all()  # a column the file lacks
    with path.open("a") as handle:
        handle.write("0,7\n4,4.0,7\n")
    assert tail.read().rows[:, 0].tolist() == [3.0, 4.0]
    path.write_text("step,loss\n1,9.0\n")  # a new run replaced the file
    read = tail.read()
    assert read.restarted and read.rows[:, 0].tolist() == [1.0]


def test_the_window_follows_a_run_it_did_not_start(qtbot, shown_window, tmp_path):
    config = tiny_config(max_steps=4)
    trainer = Trainer(config, load_data(config.data))
    for _ in trainer.run():
        pass
    folder = tmp_path / "run"
    folder.mkdir()
    save_trainer(folder / "checkpoint.safetensors", trainer)
    (folder / "metrics.csv").write_text(HEADER + row(1, 9.0) + row(2, 8.0))
    before = sorted(path.name for path in folder.iterdir())

    window = shown_window(tiny_config())
    assert window.files.follow(folder)
    history = window.state.run.history
    qtbot.waitUntil(lambda: len(history) == 2, timeout=SIGNAL_TIMEOUT_MS)
    qtbot.waitUntil(lambda: window.state.shown.model is not None, timeout=SIGNAL_TIMEOUT_MS)
    assert window.state.shown.step == 4

    with (folder / "metrics.csv").open("a") as handle:
        handle.write(row(3, 7.0))
    qtbot.waitUntil(lambda: len(history) == 3, timeout=SIGNAL_TIMEOUT_MS)
    assert window.curves.curves["loss"].getOriginalDataset()[1].tolist() == [9.0, 8.0, 7.0]

    trainer.config.train.max_steps = 8
    for _ in trainer.run():
        pass
    save_trainer(folder / "checkpoint.safetensors", trainer)
    qtbot.waitUntil(lambda: window.state.shown.step == 8, timeout=SIGNAL_TIMEOUT_MS)
    assert sorted(path.name for path in folder.iterdir()) == before  # read-only: nothing added
    window.files.stop_following()
    assert not window.files.follower.active


def test_following_a_missing_folder_says_so(qtbot, shown_window, tmp_path):
    window = shown_window(tiny_config())
    with qtbot.waitSignal(window.errorShown, timeout=SIGNAL_TIMEOUT_MS) as shown:
        assert not window.files.follow(tmp_path / "nowhere")
    assert "nowhere" in shown.args[0] and "not a folder" in shown.args[0]
