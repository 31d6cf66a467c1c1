"""Prior samples in the explorer's side panel (or, for 2-D points, in the data space): redrawn
from new weights at most every SAMPLES_INTERVAL_S, and renewed when the user asks."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer

from app.explorer.data_space import DataSpaceView
from app.explorer.decode_service import DecodeService
from app.explorer.side_panel import SidePanel
from app.state import ExplorerState

# An autoregressive code prior takes tens of milliseconds to sample.
SAMPLES_INTERVAL_S = 1.0
SAMPLE_COUNT = 16
POINT_SAMPLE_COUNT = 500


class PriorSamples(QObject):
    def __init__(
        self,
        state: ExplorerState,
        decoder: DecodeService,
        side: SidePanel,
        data_space: DataSpaceView,
        waits_for_drag: Callable[[QTimer], bool],
        parent: QObject | None = None,
    ):
        super().__init__(parent)
        self.state, self.decoder, self.side, self.data_space = state, decoder, side, data_space
        self._waits_for_drag = waits_for_drag
        self._seed = 0
        self._last_time = -math.inf
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._due)
        side.resampleRequested.connect(self._resample)

    def due_now(self) -> None:
        """The next request draws at once (another model, another class)."""
        self._last_time = -math.inf

    def request(self) -> None:
        if not self._timer.isActive():
            wait = self._last_time + SAMPLES_INTERVAL_S - time.perf_counter()
            self._timer.start(int(max(0.0, wait) * 1000))

    def _due(self) -> None:
        if not self._waits_for_drag(self._timer):
            self.refresh()

    def refresh(self) -> None:
        self._timer.stop()
        self._last_time = time.perf_counter()
        model, label = self.decoder.model, self.state.label
        if model is None:
            self.side.show_samples(None)
            return
        if model.planar:
            self.side.show_samples(None)
            self.side.resample_button.setEnabled(True)  # the draws are in data space
            self.data_space.set_samples(
                model.sample_values(POINT_SAMPLE_COUNT, label, seed=self._seed)
            )
            return
        self.side.show_samples(model.sample(SAMPLE_COUNT, label, seed=self._seed))

    def _resample(self) -> None:
        self._seed += 1
        self.refresh()
