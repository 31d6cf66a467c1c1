"""The metrics export holds the run's whole record, not the window's paced snapshots: a row every
`log_every` steps with the held-out ELBO where evaluated, the same rows the command line logs
for the same run, whatever the pace of the snapshots; a stopped run's last steps make a row."""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
from test_app_window import SIGNAL_TIMEOUT_MS, tiny_config, train_to_the_end

from app.controllers.pacing import LogPacer
from app.workers import TRAINING_THREADS
from vae_core.data import load_data
from vae_core.metrics_columns import METRICS_COLUMNS
from vae_core.metrics_reader import MetricsTail
from vae_core.training.trainer import Trainer, metrics_row

STEP, HELDOUT = METRICS_COLUMNS.index("step"), METRICS_COLUMNS.index("heldout_elbo")
TERMS = [METRICS_COLUMNS.index(name) for name in ("loss", "recon", "kl", "beta")]


def recorded_config(max_steps: int | None):
    config = tiny_config(max_steps=max_steps)
    train = dataclasses.replace(config.train, log_every=5, heldout_every=10)
    return dataclasses.replace(config, train=train)


def coarse_snapshots(window) -> None:
    """Snapshots 20 steps apart (as a fast model's are): coarser than the record."""
    window.runs.pacer = LogPacer(target_interval_s=1e6, first_log_every=20, max_growth=1)


def command_line_rows(config) -> np.ndarray:
    """The rows a headless run of `config` logs, trained on the window's thread count."""
    threads = torch.get_num_threads()
    torch.set_num_threads(TRAINING_THREADS)
    try:
        trainer = Trainer(config, load_data(config.data))
        return np.array([metrics_row(snapshot) for snapshot in trainer.run()])
    finally:
        torch.set_num_threads(threads)


def export(qtbot, window, path) -> np.ndarray:
    with qtbot.waitSignal(window.files.exported, timeout=SIGNAL_TIMEOUT_MS):
        assert window.files.export_metrics(path)
    return MetricsTail(path).read().rows


def test_the_export_holds_the_command_lines_rows_however_coarse_the_snapshots(
    qtbot, shown_window, tmp_path
):
    config = recorded_config(max_steps=40)
    window = shown_window(config)
    coarse_snapshots(window)
    train_to_the_end(qtbot, window)
    snapshot_steps = window.curves.curves["loss"].getOriginalDataset()[0].tolist()
    assert snapshot_steps == [20.0, 40.0]  # the curves keep the snapshots' pace

    rows = export(qtbot, window, tmp_path / "metrics.csv")
    expected = command_line_rows(config)
    assert rows[:, STEP].tolist() == list(range(5, 45, 5)) == expected[:, STEP].tolist()
    assert np.allclose(rows[:, TERMS], expected[:, TERMS], rtol=1e-6, atol=0)
    evaluated = ~np.isnan(rows[:, HELDOUT])
    assert rows[evaluated, STEP].tolist() == [10.0, 20.0, 30.0, 40.0]
    assert np.allclose(rows[evaluated, HELDOUT], expected[evaluated, HELDOUT], rtol=1e-6)


def test_a_stopped_run_exports_every_step_it_trained(qtbot, shown_window, tmp_path):
    window = shown_window(recorded_config(max_steps=100_000))
    coarse_snapshots(window)
    with qtbot.waitSignal(window.runs.runStarted, timeout=SIGNAL_TIMEOUT_MS):
        window.train()
    with qtbot.waitSignal(window.runs.snapshotReady, timeout=SIGNAL_TIMEOUT_MS):
        pass
    window.runs.pause()  # at its next snapshot
    qtbot.waitUntil(lambda: window.state.run.status.name == "PAUSED", timeout=SIGNAL_TIMEOUT_MS)
    window.runs.step()  # one step more: no multiple of the record's 5
    qtbot.waitUntil(
        lambda: window.state.run.latest.step % 5 != 0 and window.state.run.status.name == "PAUSED",
        timeout=SIGNAL_TIMEOUT_MS,
    )
    with qtbot.waitSignal(window.runs.runEnded, timeout=SIGNAL_TIMEOUT_MS):
        window.runs.stop()
    last_step = window.state.run.latest.step
    rows = export(qtbot, window, tmp_path / "stopped.csv")
    assert rows[:, STEP].tolist() == [*range(5, last_step, 5), last_step]


def test_the_record_and_the_snapshots_share_one_held_out_evaluation_a_step(monkeypatch):
    """The record's rows and the snapshots both carry the held-out ELBO where it is due: at a step
    where both ask, it is computed once (it costs a pass over the held-out examples)."""
    import vae_core.training.heldout as heldout_module

    evaluated_at = []
    total_elbo = heldout_module.total_elbo

    def counted(model, data, seed):
        evaluated_at.append(trainer.step)
        return total_elbo(model, data, seed=seed)

    monkeypatch.setattr(heldout_module, "total_elbo", counted)
    config = recorded_config(max_steps=20)
    config = dataclasses.replace(config, train=dataclasses.replace(config.train, log_every=10))
    trainer = Trainer(config, load_data(config.data))
    trainer.keep_record(5)
    snapshots = list(trainer.run())
    assert [snapshot.heldout_elbo is not None for snapshot in snapshots] == [True, True]
    assert evaluated_at == [10, 20]
