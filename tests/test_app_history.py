"""The window's bookkeeping: bounded plot series, the metrics table, snapshot pacing, plot ranges."""

import csv

import numpy as np
import pytest

from app.controllers.pacing import DutyCycle, LogPacer
from app.curve_scale import fitted_log_range
from app.history import BoundedSeries, MetricsTable
from vae_core.errors import VaeStudioError
from vae_core.metrics_columns import METRICS_COLUMNS
from vae_core.training.trainer import TrainingSnapshot, metrics_row


def _snapshot(step: int, loss: float) -> TrainingSnapshot:
    return TrainingSnapshot(
        step=step,
        epoch=step // 10,
        epoch_progress=0.5,
        total_steps=100,
        wall_time_s=0.25 * step,
        images_per_s=1000.0,
        loss=loss,
        recon=loss - 1.0,
        kl=1.0,
        beta=0.5,
        learning_rate=1e-3,
        kl_per_dim=np.array([0.5, 0.5]),
        finished=False,
    )


def test_series_keeps_every_point_until_full():
    series = BoundedSeries(("a",), capacity=8)
    for step in range(1, 9):
        series.append(step, (10.0 * step,))
    assert series.x.tolist() == [1, 2, 3, 4, 5, 6, 7, 8]
    assert series.y("a").tolist() == [10, 20, 30, 40, 50, 60, 70, 80]


def test_full_series_merges_its_older_half_pairwise_into_interval_means():
    series = BoundedSeries(("a", "b"), capacity=8)
    for step in range(1, 10):
        series.append(step, (float(step), -float(step)))
    # Points 1..4 became two: x of the later point, the mean of the pair; 5..9 stay as they were.
    assert series.x.tolist() == [2, 4, 5, 6, 7, 8, 9]
    assert series.y("a").tolist() == [1.5, 3.5, 5, 6, 7, 8, 9]
    assert series.y("b").tolist() == [-1.5, -3.5, -5, -6, -7, -8, -9]


def test_series_stays_bounded_over_a_long_run_and_keeps_its_ends():
    series = BoundedSeries(("a",), capacity=400)
    for step in range(1, 100_001):
        series.append(step, (float(step),))
    assert len(series) <= 400
    assert series.x[-1] == 100_000 and series.y("a")[-1] == 100_000
    assert np.all(np.diff(series.x) > 0)
    # On y = step every point is a mean over the steps it covers: after its predecessor, up to its own.
    x, y = series.x, series.y("a")
    assert np.all(y <= x) and np.all(y[1:] > x[:-1])
    assert y[0] >= 1


def test_series_capacity_must_be_a_multiple_of_four():
    with pytest.raises(VaeStudioError, match="multiple of 4"):
        BoundedSeries(("a",), capacity=6)


def test_metrics_table_writes_the_command_lines_columns(tmp_path):
    table = MetricsTable()
    for step in range(1, 301):  # past the first allocation of 256 rows
        table.append(metrics_row(_snapshot(step, loss=100.0 + step)))
    path = tmp_path / "metrics.csv"
    table.write_csv(path)
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    assert tuple(rows[0]) == METRICS_COLUMNS
    assert len(rows) == 301
    first = dict(zip(rows[0], rows[1]))
    assert first["step"] == "1" and first["epoch"] == "0"
    assert (
        float(first["loss"]) == 101.0
        and float(first["recon"]) == 100.0
        and float(first["beta"]) == 0.5
    )
    assert dict(zip(rows[0], rows[300]))["step"] == "300"


def test_metrics_table_reports_an_unwritable_path(tmp_path):
    table = MetricsTable()
    table.append(metrics_row(_snapshot(1, 1.0)))
    (tmp_path / "a-file").write_text("")
    with pytest.raises(VaeStudioError, match="cannot write"):
        table.write_csv(tmp_path / "a-file" / "metrics.csv")


@pytest.mark.parametrize(
    ("log_every", "steps_per_second", "expected"),
    [
        (1, 5.0, None),  # one step per 0.2 s: as fine as it gets
        (1, 200.0, 8),  # ideal 20, growth capped at x8
        (8, 200.0, 20),  # 25 snapshots a second is over the bound of 20: straight to the ideal
        (20, 200.0, None),
        (20, 1000.0, 100),
        (100, 100.0, 10),  # far too slow now: one snapshot per second becomes ten
        (10, float("nan"), None),
        (10, 0.0, None),
    ],
)
def test_pacer_aims_at_ten_snapshots_a_second(log_every, steps_per_second, expected):
    assert LogPacer().next_log_every(log_every, steps_per_second) == expected


def test_paced_snapshots_stay_between_five_and_twenty_a_second():
    pacer = LogPacer()
    for steps_per_second in (3.0, 50.0, 400.0, 5000.0, 80_000.0):
        log_every = pacer.first_log_every
        while (changed := pacer.next_log_every(log_every, steps_per_second)) is not None:
            log_every = changed
        rate = steps_per_second / log_every
        assert rate <= 20.0
        assert rate >= 5.0 or log_every == 1


def test_a_costly_refresh_is_spaced_to_its_share_of_the_time():
    pace = DutyCycle(min_interval_s=1.0, share=0.05)
    assert pace.wait_s(now=0.0) == 0.0  # never run: due at once
    pace.started(now=10.0)
    pace.spent(0.01)
    pace.spent(0.02)  # cheap: 30 ms a pass, the interval rules
    assert pace.wait_s(now=10.25) == pytest.approx(0.75)
    assert pace.wait_s(now=12.0) == 0.0
    pace.started(now=20.0)
    pace.spent(0.2)  # costly: 200 ms at 5 % is one pass every 4 s
    assert pace.wait_s(now=20.0) == pytest.approx(4.0)
    pace.due_now()
    assert pace.wait_s(now=20.5) == 0.0


def test_curve_ranges_change_only_when_the_data_leaves_them():
    values = np.array([1.0, 10.0, 100.0, 0.0, np.nan])  # zero and NaN cannot be shown on a log axis
    assert fitted_log_range(values, None) == pytest.approx((-0.15, 2.15))
    assert fitted_log_range(values, (-0.15, 2.15)) is None
    assert (
        fitted_log_range(values, (-0.5, 2.5)) is None
    )  # 0.7 decades to spare: within the slack of 1
    assert fitted_log_range(values, (-1.0, 3.0)) == pytest.approx(
        (-0.15, 2.15)
    )  # 1.7 to spare: shrinks
    assert fitted_log_range(values, (0.5, 2.5)) == pytest.approx(
        (-0.15, 2.15)
    )  # 1.0 fell out: grows
    assert fitted_log_range(np.array([0.0, -1.0]), None) is None
