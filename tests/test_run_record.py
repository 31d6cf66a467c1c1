"""The run folder's one writer: metrics.csv's row format, written whole or a row at a time, and cut
back to the checkpoint's history when a run resumes (the rows a killed run logged after its last
save are not doubled)."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest

from vae_core.checkpoint import load_checkpoint
from vae_core.cli import main
from vae_core.metrics_columns import METRICS_COLUMNS
from vae_core.run_record import MetricsLog, metric_cells, read_metrics, rows_up_to

SMALL = ["--dataset", "glyphs", "--hidden", "16", "--batch-size", "50", "--log-every", "5"]


def _row(step: int, loss: float, heldout: float = math.nan) -> tuple[float, ...]:
    values = dict.fromkeys(METRICS_COLUMNS, 0.5)
    values.update(step=step, epoch=step // 10, loss=loss, heldout_elbo=heldout)
    return tuple(values[column] for column in METRICS_COLUMNS)


def _csv_rows(path: Path) -> list[list[str]]:
    with path.open(newline="") as handle:
        return list(csv.reader(handle))


def test_a_row_writes_integers_as_integers_and_an_unmeasured_figure_as_an_empty_cell():
    cells = dict(zip(METRICS_COLUMNS, metric_cells(_row(12, 1 / 3))))
    assert cells["step"] == "12" and cells["epoch"] == "1"
    assert cells["heldout_elbo"] == "" and float(cells["loss"]) == pytest.approx(1 / 3, rel=1e-8)


def test_rows_up_to_keeps_the_rows_at_or_before_the_step():
    rows = np.array([_row(step, 1.0) for step in (5, 10, 15, 20)])
    assert rows_up_to(rows, 15)[:, 0].tolist() == [5, 10, 15]


def test_a_log_started_from_rows_so_far_replaces_what_the_file_held(tmp_path):
    path = tmp_path / "metrics.csv"
    with MetricsLog(path) as log:  # a first run: header, then rows as they come
        for step in (5, 10, 15, 20):
            log.append(_row(step, 100.0 - step))
    with MetricsLog(path, [_row(5, 95.0), _row(10, 90.0)]) as log:  # resumed from step 10
        log.append(_row(15, 80.0, heldout=-81.5))
    rows = _csv_rows(path)
    assert tuple(rows[0]) == METRICS_COLUMNS
    assert [row[0] for row in rows[1:]] == ["5", "10", "15"]
    np.testing.assert_array_equal(read_metrics(path)[:, 4], [95.0, 90.0, 80.0])
    assert rows[-1][-1] == "-81.5"


def test_resume_rewrites_metrics_csv_to_the_checkpoints_history(tmp_path):
    out = tmp_path / "run"
    config = tmp_path / "small.toml"
    config.write_text("[data]\nsize = 600\n[train]\nheldout_every = 0\n")
    first = ["train", "--out", str(out), "--config", str(config), *SMALL, "--max-steps", "20"]
    assert main(first) == 0
    metrics = out / "metrics.csv"
    # As a run killed after its last save leaves the file: rows the checkpoint does not know.
    logged_after_the_save = "25,2,1.0,1.0,9.0,9.0,0.1,1,0.001,\n30,2,1.0,1.0,9.0,9.0,0.1,1,0.001,\n"
    with metrics.open("a") as handle:
        handle.write(logged_after_the_save)
    assert main(["train", "--out", str(out), "--resume", "--max-steps", "40"]) == 0
    steps = [int(row[0]) for row in _csv_rows(metrics)[1:]]
    assert steps == list(range(5, 41, 5))
    history = load_checkpoint(out / "checkpoint.safetensors").history
    np.testing.assert_allclose(read_metrics(metrics), history, rtol=1e-7, atol=1e-9)
