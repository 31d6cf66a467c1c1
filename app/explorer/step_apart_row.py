"""The step taken apart's controls and words: `stepApartButton` and `phaseButton` for the run's
toolbar, and a row above the map with `phaseLabel` (the phase, its line from the seed and its
numbers), the input and its decoded image, and the loss's terms as bars.

A view only: it draws the step-apart state and reports the user's clicks with signals."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from app.explorer.image_widgets import ImageTile
from app.explorer.side_panel import format_code
from app.explorer.step_apart_layer import MU_COLOUR, SIGMA_COLOUR, STEP_COLOUR
from app.naming import named
from app.state.step_apart import StepApartState
from vae_core.latent import to_uint8_images
from vae_core.training.step_apart import PHASES, StepPhase

TITLES = {
    "encode": "Encode",
    "reparameterize": "Draw ε, then z = μ + σ·ε",
    "decode": "Decode z",
    "loss": "The loss's terms",
    "gradient": "The gradient for μ and σ",
    "update": "The update",
}
BUTTON_TIP = (
    "Take one training step apart, one phase at a time, on the selected input (or the first "
    "test image)"
)


def _numbers(phase: StepPhase, step: int | None) -> str:
    """What the phase found, in numbers."""
    name = phase.name
    if name == "encode":
        return f"μ = {format_code(phase.mean)}, σ = {format_code(phase.std)}"
    if name == "reparameterize":
        return f"ε = {format_code(phase.epsilon)}, z = {format_code(phase.code)}"
    if name == "decode":
        return "The decoded image is beside the input."
    if name == "loss":
        return (
            f"reconstruction {phase.recon:.3f} nats + β × KL {phase.kl:.3f} nats "
            f"= loss {phase.loss:.3f} nats"
        )
    if name == "gradient":
        return (
            f"∂loss/∂μ = {format_code(phase.mean_gradient)}, "
            f"∂loss/∂σ = {format_code(phase.std_gradient)}"
        )
    return (
        f"Now at step {step:,}: μ → {format_code(phase.updated_mean)}, "
        f"σ → {format_code(phase.updated_std)}"
    )


class LossBars(pg.PlotWidget):
    """Reconstruction, β·KL and the loss as horizontal bars, in nats."""

    NAMES = ("reconstruction", "β × KL", "loss")

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("phaseLossBars")
        self.setFixedSize(300, 96)
        item = self.getPlotItem()
        item.setMenuEnabled(False)
        item.hideButtons()
        item.setMouseEnabled(False, False)
        self._axis = item.getAxis("left")
        self._show_names(("",) * 3)
        item.setLabel("bottom", "nats")
        colours = (STEP_COLOUR, SIGMA_COLOUR, MU_COLOUR)
        self.bars = pg.BarGraphItem(
            x0=0, y=[2, 1, 0], height=0.6, width=[0, 0, 0], brushes=list(colours)
        )
        self.addItem(self.bars)
        self.values: tuple[float, ...] = ()

    def show_terms(self, phase: StepPhase | None) -> None:
        self.setVisible(phase is not None and phase.loss is not None)
        if not self.isVisible():
            return
        self.values = (phase.recon, phase.loss - phase.recon, phase.loss)
        self.bars.setOpts(width=list(self.values))
        self._show_names(tuple(f"{value:.1f}" for value in self.values))
        low, high = min(0.0, *self.values), max(0.0, *self.values)
        self.setXRange(low, high + 1e-9, padding=0.08)
        self.setYRange(-0.5, 2.5, padding=0)

    def _show_names(self, values: tuple[str, ...]) -> None:
        """Each bar's name and value, top to bottom."""
        names = [f"{name} {value}" for name, value in zip(self.NAMES, values)]
        self._axis.setTicks([list(enumerate(reversed(names)))])


class StepApartRow(QWidget):
    """The row above the map, shown in the mode."""

    def __init__(self, state: StepApartState, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.setObjectName("stepApartRow")
        self.label = named(QLabel(), "phaseLabel", "Phase of the step taken apart")
        self.label.setWordWrap(True)
        self.label.setTextFormat(Qt.TextFormat.RichText)
        self.label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.input_tile = self._tile("phaseInput", "input x")
        self.decoded_tile = self._tile("phaseDecoded", "decoded")
        self.bars = LossBars(self)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        for tile in (self.input_tile, self.decoded_tile):
            layout.addWidget(tile.parentWidget())
        layout.addWidget(self.label, 1)
        layout.addWidget(self.bars)
        self.setMaximumHeight(116)
        for event in ("active", "phase", "note", "input_image", "waiting", "held"):
            getattr(state.events, event).connect(self.redraw)
        self.redraw()

    def _tile(self, name: str, caption: str) -> ImageTile:
        box = QWidget(self)
        column = QVBoxLayout(box)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        tile = ImageTile(name, minimum=72, parent=box)
        tile.setFixedSize(84, 84)
        column.addWidget(tile)
        words = QLabel(caption, box)
        words.setAlignment(Qt.AlignmentFlag.AlignCenter)
        column.addWidget(words)
        return tile

    def redraw(self, *_) -> None:
        state = self.state
        self.setVisible(state.active)
        if not state.active:
            return
        phase = state.phase
        self.label.setText(self._text())
        images = state.input_image is not None
        self.input_tile.parentWidget().setVisible(images)
        self.decoded_tile.parentWidget().setVisible(images)
        self.input_tile.set_image(state.input_image)
        decoded = None if phase is None or phase.decoded is None else phase.decoded
        self.decoded_tile.set_image(
            to_uint8_images(decoded[None])[0] if images and decoded is not None else None
        )
        self.bars.show_terms(phase)

    def _text(self) -> str:
        state = self.state
        phase = state.phase
        lines = []
        if phase is None:
            lines.append("<b>A training step taken apart</b>")
            lines.append(
                "Press <b>Phase</b> to encode the selected input (or the first test image)."
            )
        else:
            number = PHASES.index(phase.name) + 1
            # The step taken apart is the run's next: its count until the update, then one more.
            taken = state.step if state.step_done else state.step + 1
            lines.append(
                f"<b>Phase {number} of {len(PHASES)}: {TITLES[phase.name]}</b> "
                f"(step {taken:,}, on {state.input_name})"
            )
            lines.append(f"<i>{phase.says}</i>")
            lines.append(_numbers(phase, state.step))
        if state.note:
            lines.append(f"<span style='color:#e0a000'>{state.note}</span>")
        return "<br>".join(lines)


class StepApartButtons(QObject):
    """`stepApartButton` (checkable) and `phaseButton`, for the run's toolbar."""

    activeRequested = Signal(bool)
    phaseRequested = Signal()

    def __init__(self, state: StepApartState, parent: QObject | None = None):
        super().__init__(parent)
        self.state = state
        self.mode_button = named(QPushButton("Step apart"), "stepApartButton", "Step apart")
        self.mode_button.setCheckable(True)
        self.phase_button = named(QPushButton("Phase ▸"), "phaseButton", "Next phase")
        self.phase_button.setToolTip("Run the next phase of the step taken apart")
        for button in (self.mode_button, self.phase_button):
            button.setFocusPolicy(Qt.FocusPolicy.TabFocus)  # Space stays pause/resume
        # The toolbar's action that shows the phase button (a toolbar's widget shows by its action).
        self.phase_action: QAction | None = None
        self.mode_button.toggled.connect(self.activeRequested)
        self.phase_button.clicked.connect(self.phaseRequested)
        for event in ("active", "refusal", "waiting", "held"):
            getattr(state.events, event).connect(self.redraw)
        self.redraw()

    def redraw(self, *_) -> None:
        state = self.state
        refusal = state.refusal
        self.mode_button.setEnabled(not refusal)
        self.mode_button.setToolTip(refusal or BUTTON_TIP)
        self.mode_button.setStatusTip(refusal or BUTTON_TIP)
        if self.mode_button.isChecked() != state.active:
            self.mode_button.blockSignals(True)
            self.mode_button.setChecked(state.active)
            self.mode_button.blockSignals(False)
        if self.phase_action is not None:
            self.phase_action.setVisible(state.active)
        self.phase_button.setEnabled(state.can_take_phase)
