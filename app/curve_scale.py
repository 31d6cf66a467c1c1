"""The loss curves' y scales: linear, or a symmetric log that keeps negative values.

A Gaussian likelihood's loss goes below zero once the model is sure of its points; a plain log
axis drops those points. The symmetric log maps y to sign(y)·log10(1 + |y|/floor): logarithmic
for |y| well above the floor, linear through zero, so every value is drawn on either scale.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QFontMetricsF

SCALES = ("log", "linear")
# The linear stretch around zero spans a decade below the curves' smaller values, within these
# bounds: a KL of 0.005 nats (a collapsed code) still stands apart from one of 0.05, and a loss
# that crosses zero does not spend half the axis on the decades it passes in a few steps.
FLOOR_RANGE = (1e-3, 1.0)
FLOOR_PERCENTILE = 10


# The floor is read from at most this many of the values, evenly spread: the redraw stays cheap
# however long the run.
FLOOR_SAMPLE = 512


def symlog_floor(values: np.ndarray) -> float:
    sample = values[:: max(1, len(values) // FLOOR_SAMPLE)]
    magnitudes = np.abs(sample[np.isfinite(sample) & (sample != 0)])
    if not len(magnitudes):
        return FLOOR_RANGE[1]
    floor = 10.0 ** (np.floor(np.log10(np.percentile(magnitudes, FLOOR_PERCENTILE))) - 1)
    return float(np.clip(floor, *FLOOR_RANGE))


def symlog(values: np.ndarray, floor: float) -> np.ndarray:
    return np.sign(values) * np.log10(1.0 + np.abs(values) / floor)


def symlog_inverse(positions: np.ndarray, floor: float) -> np.ndarray:
    return np.sign(positions) * floor * (10.0 ** np.abs(positions) - 1.0)


def to_view(values: np.ndarray, scale: str, floor: float) -> np.ndarray:
    """Values as drawn on `scale`."""
    return symlog(values, floor) if scale == "log" else values


def fitted_range(
    drawn: np.ndarray, current: tuple[float, float] | None, margin: float, slack: float
) -> tuple[float, float] | None:
    """The range in which to show the `drawn` values, or None while `current` suits them: it holds
    them all and wastes at most `slack` more than the margins. A range that only changes when the
    data leaves it spares re-laying the axes at every redraw."""
    finite = drawn[np.isfinite(drawn)]
    if not len(finite):
        return None
    low, high = float(finite.min()), float(finite.max())
    if current is not None:
        current_low, current_high = current
        wasted = (current_high - current_low) - (high - low) - 2 * margin
        if current_low <= low and high <= current_high and wasted <= slack:
            return None
    return low - margin, high + margin


def fitted_curve_range(
    values: np.ndarray, current, scale: str, floor: float
) -> tuple[float, float] | None:
    """`fitted_range` on `scale`: 0.15 decades of margin and a decade of slack on the log scale;
    5% and the values' whole span on the linear one."""
    if scale == "log":
        return fitted_range(symlog(values, floor), current, margin=0.15, slack=1.0)
    finite = values[np.isfinite(values)]
    if not len(finite):
        return None
    # A flat curve still gets a range around it.
    span = float(finite.max() - finite.min()) or max(1.0, float(np.abs(finite).max()))
    return fitted_range(values, current, margin=0.05 * span, slack=span)


def fitted_log_range(values: np.ndarray, current, margin: float = 0.15, slack: float = 1.0):
    """`fitted_range` in log10 of the positive `values` (β's axis)."""
    positive = values[np.isfinite(values) & (values > 0)]
    return fitted_range(np.log10(positive), current, margin, slack) if len(positive) else None


class ScaledCurve(pg.PlotDataItem):
    """A curve drawn on a chosen scale that still stands for its own values: `getOriginalDataset`
    (what tests, CSV export and other readers see) gives the values, not their drawn positions."""

    def __init__(self, *args, **options):
        super().__init__(*args, **options)
        self._values: tuple[np.ndarray, np.ndarray] = (np.empty(0), np.empty(0))
        self._drawn_as: tuple[str, float] | None = None

    def show_values(self, x: np.ndarray, y: np.ndarray, scale: str, floor: float) -> None:
        # Setting the same data again costs a redraw (a few ms with symbols): the held-out curve
        # changes every few hundred steps, not at every refresh.
        drawn_x, drawn_y = self._values
        if (
            (scale, floor) == self._drawn_as
            and np.array_equal(x, drawn_x)
            and np.array_equal(y, drawn_y, equal_nan=True)
        ):
            return
        self._values = (x, y)
        self._drawn_as = (scale, floor)
        self.setData(x, to_view(y, scale, floor))

    def getOriginalDataset(self):
        return self._values


class CurveAxis(pg.AxisItem):
    """A y axis that labels either scale in the curves' own units: on the log scale, ticks at
    0 and ±1, ±10, ±100 … nats, wherever the symmetric log put them."""

    def __init__(self, orientation: str = "left", **options):
        super().__init__(orientation, **options)
        self.scale_name = "log"
        self.floor = FLOOR_RANGE[1]
        self._decade_positions = self._positions_of_decades()

    def set_scale(self, scale: str, floor: float) -> None:
        self.scale_name = scale
        self.floor = floor
        self._decade_positions = self._positions_of_decades()
        self.picture = None
        self.update()

    def _positions_of_decades(self) -> list[float]:
        """Where 0 and ±10^k nats sit on the symmetric log scale (worked out once per floor, not at
        every paint)."""
        decades = np.array([10.0**power for power in range(round(math.log10(self.floor)), 13)])
        values = np.concatenate([[0.0], decades, -decades])
        return sorted(symlog(values, self.floor).tolist())

    def tickValues(self, minVal, maxVal, size):
        if self.scale_name != "log":
            return super().tickValues(minVal, maxVal, size)
        low, high = sorted((minVal, maxVal))
        major = [position for position in self._decade_positions if low <= position <= high]
        # Every decade when few fit, else every other one, so labels never collide.
        pixels_per_tick = size / max(len(major), 1)
        if pixels_per_tick < 24 and len(major) > 2:
            major = major[::2]
        return [(1.0, major)]

    def tickStrings(self, values, scale, spacing):
        if self.scale_name != "log":
            return super().tickStrings(values, scale, spacing)
        return [
            _short_number(float(symlog_inverse(np.array(value), self.floor))) for value in values
        ]


def _short_number(value: float) -> str:
    if value == 0:
        return "0"
    magnitude = abs(value)
    text = (
        f"{magnitude:,.0f}"
        if magnitude >= 1
        else f"{magnitude:.{max(0, -math.floor(math.log10(magnitude)))}f}"
    )
    return ("−" if value < 0 else "") + text


# β's ticks, densest first: the first whose labels all have room is used.
_TICK_MULTIPLES = ((1, 2, 3, 4, 5, 6, 7, 8, 9), (1, 2, 5), (1,))
# Pixels between two labels, beyond a line of text.
_LABEL_GAP = 4


class BetaAxis(pg.AxisItem):
    """β's log axis, with labels that never collide: ticks at 1, 2, … 9 times each decade while
    their labels have room, else at 1, 2 and 5 times, else every decade or every few. pyqtgraph's
    own adds 2 … 9 whatever the room: its labels overlapped once β spanned a decade or two."""

    def logTickValues(self, minVal, maxVal, size, stdTicks):
        low, high = sorted((minVal, maxVal))
        if not (size > 0 and high > low and math.isfinite(low) and math.isfinite(high)):
            return []
        room = QFontMetricsF(self.style["tickFont"] or self.font()).height() + _LABEL_GAP
        per_decade = size / (high - low)
        decades = range(math.floor(low), math.floor(high) + 1)
        for multiples in _TICK_MULTIPLES:
            ticks = [
                position
                for decade in decades
                for position in (decade + math.log10(multiple) for multiple in multiples)
                if low <= position <= high
            ]
            if len(ticks) < 2 or min(np.diff(ticks)) * per_decade >= room:
                return [(None, ticks)]
        every = math.ceil(room / per_decade)  # decades from one label to the next
        first = math.ceil(low / every) * every
        return [(None, [float(decade) for decade in range(first, math.floor(high) + 1, every)])]
