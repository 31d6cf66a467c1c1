"""The window's status bar as a view of the state: run status, step, epoch, speed, device, model.

Labels are fixed to the widths of their longest texts: a label that changes size makes the whole
status bar lay out and repaint again, ten times a second. Messages end in "…" where they would
run into the first label, the whole message in the bar's tooltip.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QLabel, QProgressBar, QSizePolicy, QStatusBar, QWidget

from app.naming import named
from app.state import AppState, RunStatus

# The progress bar's resolution: a tenth of a percent, so a long run's bar visibly moves.
PROGRESS_STEPS = 1000
PRESENTATION_HINT = "Space pause · N step · [ ] β · Ctrl+Return train · Ctrl+. stop · Esc leave"


# Qt draws a message from this many pixels in to this many before the first permanent widget.
_MESSAGE_LEFT, _MESSAGE_GAP = 6, 2


class MessageBar(QStatusBar):
    """A status bar whose messages are cut with "…" to the room left of its permanent widgets (Qt
    draws them whole, into the labels), whatever their length or the window's width."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        # As QMainWindow sets its own status bar's: the labels' widths never widen the window.
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self._permanent: list[QWidget] = []
        self._full = ""  # the message as given
        self._clear = QTimer(self)
        self._clear.setSingleShot(True)
        self._clear.timeout.connect(self.clearMessage)
        self.messageChanged.connect(self._changed)

    def addPermanentWidget(self, widget: QWidget, stretch: int = 0) -> None:
        self._permanent.append(widget)
        super().addPermanentWidget(widget, stretch)

    def showMessage(self, message: str, timeout: int = 0) -> None:
        """`message`, cut to fit, for `timeout` ms (0: until the next)."""
        self._full = message
        super().showMessage(self._fitted(message))  # the timer here: a refit must not reset it
        if timeout > 0:
            self._clear.start(timeout)
        else:
            self._clear.stop()

    def message(self) -> str:
        """The message on show, whole (`currentMessage` is what fits)."""
        return self._full

    def _changed(self, shown: str) -> None:
        if not shown:
            self._full = ""
        elif shown != self._fitted(self._full):  # Qt's own (a menu's status tip): fitted too
            self._clear.stop()
            self._full = shown
            if self._fitted(shown) != shown:
                super().showMessage(self._fitted(shown))
        cut = self._fitted(self._full) != self._full
        self.setToolTip(self._full if cut else "")

    def _fitted(self, message: str) -> str:
        return self.fontMetrics().elidedText(message, Qt.TextElideMode.ElideRight, self._room())

    def _room(self) -> int:
        """The message's width before the first visible permanent widget, as Qt lays it out."""
        shown = [widget.x() for widget in self._permanent if widget.isVisible()]
        right = min(shown) - _MESSAGE_GAP if shown else self.width() - 2 * _MESSAGE_LEFT
        return max(0, right - _MESSAGE_LEFT)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        fitted = self._fitted(self._full)
        if self.currentMessage() and fitted != self.currentMessage():
            super().showMessage(fitted)


class RunStatusBar:
    """Fills `bar` with the run's figures; `refresh()` draws the latest snapshot (the window's
    redraw timer calls it), status and model changes draw at once."""

    def __init__(self, bar: QStatusBar, state: AppState):
        self.bar = bar
        self.state = state
        self.presentation_hint = named(
            QLabel(PRESENTATION_HINT), "presentationHint", "Keyboard shortcuts"
        )
        bar.addWidget(self.presentation_hint, 1)
        self.presentation_hint.hide()
        self.state_label = self._label("stateLabel", "Run state", "stopping")
        self.step_label = self._label("stepLabel", "Step", "step 10,000,000 / until stopped")
        self.epoch_label = self._label("epochLabel", "Epoch", "epoch 10,000.0")
        self.run_progress = named(QProgressBar(), "runProgress", "Progress through the run")
        self.run_progress.setRange(0, PROGRESS_STEPS)
        self.run_progress.setFixedWidth(140)
        self.run_progress.setToolTip("Share of the run's step budget done")
        bar.addPermanentWidget(self.run_progress)
        self.speed_label = self._label("speedLabel", "Images per second", "1,000,000 img/s")
        self.device_label = self._label("deviceLabel", "Device", "cuda:0")
        self.model_label = self._label("modelLabel", "Model", "vqvae, normal prior, 256-D")
        self.labels = (
            self.state_label,
            self.step_label,
            self.epoch_label,
            self.speed_label,
            self.device_label,
            self.model_label,
        )
        state.run.status_changed.connect(self._show_status)
        state.run.started.connect(self._show_device)
        state.run.history_replaced.connect(self.refresh)
        state.shown.model_changed.connect(self._show_model)
        self._show_status(state.run.status)
        self.refresh()

    def _label(self, name: str, accessible_name: str, longest_text: str) -> QLabel:
        label = named(QLabel(), name, accessible_name)
        label.setProperty("longestText", longest_text)
        self._fit(label)
        self.bar.addPermanentWidget(label)
        return label

    @staticmethod
    def _fit(label: QLabel) -> None:
        label.setFixedWidth(
            label.fontMetrics().horizontalAdvance(label.property("longestText")) + 12
        )

    def fit_to_font(self) -> None:
        for label in self.labels:
            self._fit(label)

    def _show_status(self, status: RunStatus) -> None:
        self.state_label.setText(status.value)

    def _show_device(self) -> None:
        self.device_label.setText(self.state.run.device)

    def _show_model(self) -> None:
        model = self.state.shown.model
        self.model_label.setText("" if model is None else model.description)
        if model is not None and model.source == "checkpoint":
            self.device_label.setText("cpu")

    def refresh(self) -> None:
        snapshot = self.state.run.latest
        if snapshot is None:
            for label in (self.step_label, self.epoch_label, self.speed_label):
                label.setText("")
            self.run_progress.setValue(0)
            return
        open_ended = self.state.run.open_ended
        budget = "until stopped" if open_ended else f"{snapshot.total_steps:,}"
        self.step_label.setText(f"step {snapshot.step:,} / {budget}")
        self.epoch_label.setText(f"epoch {snapshot.epoch + snapshot.epoch_progress:,.1f}")
        self.run_progress.setVisible(not open_ended)
        self.run_progress.setValue(
            round(PROGRESS_STEPS * snapshot.step / max(snapshot.total_steps, 1))
        )
        self.speed_label.setText(f"{snapshot.images_per_s:,.0f} img/s")
