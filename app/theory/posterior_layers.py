"""The selected input's true posterior p(z|x) ∝ p(x|z) p(z) as a heat map on the latent map (under
q(z|x)'s ellipses), and K importance samples from the prior or from q(z|x) as dots sized by their
normalised weights, with the effective sample size and the estimate of log p(x) beside the map.

Off, they ask nothing. On, they ask `ModelJobs` for the figure (`vae_core.figures.posterior`) and
draw its answers.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
import torch
import torch.nn.functional as F
from PySide6.QtCore import QObject, QRectF, QTimer, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QLabel, QSpinBox

from app.choice_combo import with_reason
from app.controllers.job_kinds import POSTERIOR_LAYERS
from app.controllers.model_jobs import Answer, ModelJobs
from app.explorer.selection import BINARISED_INPUT
from app.naming import named
from app.state import ModelOnShow, ShownModel
from vae_core.figures.posterior import LayersRequest, SelectedInput, observed_selection

_SMOOTHING = 4
# Drawing order on the map: over the tiles (-10), under the contours (5); dots over the points (10).
_Z_HEAT_MAP, _Z_SAMPLES = -5, 12
# A pan or zoom redraws the heat map once the view has rested this long.
RANGE_QUIET_MS = 200
# Dot diameters in pixels: an equal weight 1/K gives the base size; area ∝ weight, within limits.
_BASE_DOT, _MIN_DOT, _MAX_DOT = 6.0, 2.5, 40.0
NO_SELECTION = "select an input on the map"


def unused_reason(on_show: ModelOnShow | None) -> str:
    """Why the true-posterior views do not apply to the model on show ("" when they do)."""
    if on_show is None:
        return "there is no model on show yet"
    capabilities = on_show.capabilities
    if not capabilities.samples_posterior:
        return "this family's encoder gives a point, not a Gaussian q(z|x): there is nothing to sample or compare"
    if capabilities.latent_layers != 1:
        return "the hierarchical VAE has two latent layers; the map shows only the top one's codes"
    return ""


def scores_binary(on_show: ModelOnShow | None) -> bool:
    """Whether the selected input is scored binarised: a Bernoulli model observes binary images."""
    return (
        on_show is not None
        and on_show.viewer is not None
        and on_show.viewer.likelihood.binarizes_data
    )


def selected_input(shown: ShownModel) -> SelectedInput | None:
    """The input selected on the map as the model observes it (binarised for a Bernoulli model)."""
    state, model = shown.explorer, shown.model
    if model is None or model.viewer is None or shown.weights is None:
        return None
    if state.selected is None or state.examples is None:
        return None
    return observed_selection(model.viewer, state.examples, state.selected)


def nats(value: float, digits: int = 1) -> str:
    """A figure with a true minus sign."""
    return f"{value:.{digits}f}".replace("-", "−")


def _heat_lut() -> np.ndarray:
    """Transparent where the density is low, an opaque magenta where it peaks."""
    ramp = np.linspace(0.0, 1.0, 256)
    colours = np.stack([150 + 105 * ramp, 20 + 100 * ramp**2, 160 + 80 * ramp, 230 * ramp], axis=1)
    return colours.astype(np.uint8)


def _shade(density: np.ndarray) -> np.ndarray:
    """The density over its peak, interpolated bilinearly to _SMOOTHING times the grid's cells a
    side: the grid's cells would show as blocks."""
    peak = density.max()
    cells = torch.from_numpy(density / peak if peak > 0 else density)[None, None]
    return F.interpolate(cells, scale_factor=_SMOOTHING, mode="bilinear", align_corners=False)[
        0, 0
    ].numpy()


class PosteriorLayers(QObject):
    """The controller of the two map layers and their row of controls."""

    layersDrawn = Signal()  # the layers, or the readout, show a new answer

    def __init__(
        self,
        explorer,
        shown: ShownModel,
        jobs: ModelJobs,
        place_controls: Callable,
        on_error: Callable[[str], None],
        parent=None,
    ):
        super().__init__(parent)
        self.explorer, self.shown, self.state = explorer, shown, shown.explorer
        self._on_error = on_error
        self._line = jobs.line(POSTERIOR_LAYERS, self, self._answered, self._failed)
        self._quadrature: tuple[tuple, float] | None = None  # ((generation, index), log p(x))
        self._drawn: Answer | None = None
        self._build_items(explorer.map.plot)
        self._build_controls()
        place_controls(
            self.posterior_check,
            self.samples_check,
            self.count_spin,
            self.proposal_combo,
            self.readout,
        )
        self._range_timer = QTimer(self)
        self._range_timer.setSingleShot(True)
        self._range_timer.setInterval(RANGE_QUIET_MS)
        self._range_timer.timeout.connect(self.request)
        explorer.map.rangeChanged.connect(self._range_changed)
        events = self.state.events
        for changed in (events.posterior, events.plane, events.decoded_generation):
            changed.connect(self.request)
        shown.model_changed.connect(self._model_changed)
        self._model_changed()

    def _build_items(self, plot) -> None:
        self.heat_map = pg.ImageItem(axisOrder="row-major")
        self.heat_map.setObjectName("posteriorLayer")
        self.heat_map.setZValue(_Z_HEAT_MAP)
        self.heat_map.setLookupTable(_heat_lut())
        plot.addItem(self.heat_map)
        self.dots = pg.ScatterPlotItem(
            pen=pg.mkPen(10, 40, 10, 200), brush=pg.mkBrush(120, 255, 80, 190)
        )
        self.dots.setObjectName("importanceSamplesLayer")
        self.dots.setZValue(_Z_SAMPLES)
        plot.addItem(self.dots)

    def _build_controls(self) -> None:
        self.posterior_check = named(
            QCheckBox("True posterior"), "truePosteriorCheckBox", "Show the true posterior"
        )
        self.posterior_check.setToolTip(
            "p(z|x) ∝ p(x|z) p(z) of the selected input on a grid over the visible plane, under q(z|x)'s ellipses"
        )
        self.samples_check = named(
            QCheckBox("Importance samples"), "importanceSamplesCheckBox", "Show importance samples"
        )
        self.samples_check.setToolTip(
            "K draws from the proposal, each dot's area in proportion to its normalised weight p(x, z)/r(z)"
        )
        self.count_spin = named(
            QSpinBox(), "importanceCountSpinBox", "Number of importance samples"
        )
        self.count_spin.setRange(1, 10_000)
        self.count_spin.setValue(100)
        self.count_spin.setPrefix("K = ")
        self.count_spin.setToolTip("How many importance samples to draw")
        self.proposal_combo = named(
            QComboBox(), "importanceProposalCombo", "Importance sampling proposal"
        )
        self.proposal_combo.addItem("prior p(z)", "prior")
        self.proposal_combo.addItem("posterior q(z|x)", "posterior")
        self.proposal_combo.setToolTip(
            "Where the samples come from: the prior wastes its weight on codes that do not explain x"
        )
        self.readout = named(QLabel(""), "importanceReadout", "Importance sampling readout")
        self.readout.setToolTip(
            "ESS = 1/Σw² of the normalised weights; the estimate is log (1/K) Σ p(x, z)/r(z) with its standard "
            "error; quadrature sums p(x, z) over a grid fitted to the posterior (2-D latents).\nFor binary data "
            "x is the selected image binarised, as training sees it: the image the side panel shows, and the one "
            "the yellow ellipses of q(z|x) are of."
        )
        self._tips = {widget: widget.toolTip() for widget in self._controls()}
        for check in (self.posterior_check, self.samples_check):
            check.toggled.connect(self.request)
        self.count_spin.valueChanged.connect(self.request)
        self.proposal_combo.currentIndexChanged.connect(self.request)

    def _controls(self):
        return (self.posterior_check, self.samples_check, self.count_spin, self.proposal_combo)

    @property
    def idle(self) -> bool:
        """No refresh under way or waiting: what is drawn answers the newest request."""
        return self._line.idle

    # What changes the layers.
    def _model_changed(self) -> None:
        self._quadrature = None
        reason = unused_reason(self.shown.model)
        for widget in self._controls():
            widget.setEnabled(not reason)
            widget.setToolTip(with_reason(self._tips[widget], reason))
        self.request()

    def _range_changed(self) -> None:
        if self.posterior_check.isChecked():
            self._range_timer.start()

    def request(self, *_) -> None:
        """Redraw both layers for the selection, weights, plane and range as they are now."""
        heat_map, samples = self.posterior_check.isChecked(), self.samples_check.isChecked()
        selected = selected_input(self.shown)
        # t-SNE's map has no plane of codes to draw p(z|x) on.
        wanted = (heat_map or samples) and self.posterior_check.isEnabled()
        wanted = wanted and self.state.plane_decodes
        if not wanted or selected is None:
            self._line.cancel()
            self._clear(NO_SELECTION if wanted else "")
            return
        plane = self.state.plane
        self._line.ask(
            LayersRequest(
                selected=selected,
                origin=plane.origin,
                basis=plane.basis,
                visible=self.explorer.map.visible_range() if heat_map else None,
                samples=self.count_spin.value() if samples else 0,
                proposal=self.proposal_combo.currentData(),
                quadrature=plane.latent_dim == 2
                and self._known_quadrature(self.shown.generation, selected) is None,
            )
        )

    def _known_quadrature(self, generation: int, selected: SelectedInput) -> float | None:
        """log p(x) by quadrature of `selected` under the weights of `generation`, if known."""
        if self._quadrature is None or self._quadrature[0] != (generation, selected.index):
            return None
        return self._quadrature[1]

    def _answered(self, answer: Answer) -> None:
        layers = answer.value
        if layers.quadrature is not None:
            self._quadrature = (
                (answer.generation, answer.request.selected.index),
                layers.quadrature,
            )
        else:
            self._drawn = answer
            self._draw(answer)
        if self._drawn is not None:  # log p(x) by quadrature joins the layers' readout
            self.readout.setText(self._readout(self._drawn))
        self.layersDrawn.emit()

    def _failed(self, error: Exception) -> None:
        # Switched off, so that every new weight does not fail (and say so) again.
        for check in (self.posterior_check, self.samples_check):
            check.setChecked(False)
        self._on_error(f"the true posterior could not be computed: {error}")

    # Drawing.
    def _clear(self, text: str) -> None:
        self._drawn = None
        self.heat_map.clear()
        self.dots.clear()
        self.readout.setText(text)

    def _draw(self, answer: Answer) -> None:
        grid, samples = answer.value.grid, answer.value.samples
        if grid is None:
            self.heat_map.clear()
        else:
            self.heat_map.setImage(_shade(grid.posterior), levels=(0.0, 1.0), autoLevels=False)
            (left, right), (bottom, top) = grid.box
            self.heat_map.setRect(
                QRectF(left, bottom, right - left, top - bottom)
            )  # row 0 at the bottom
        if samples is None:
            self.dots.clear()
        else:
            xy = (samples.codes - answer.request.origin) @ answer.request.basis.T
            sizes = np.clip(
                _BASE_DOT * np.sqrt(len(samples.weights) * samples.weights), _MIN_DOT, _MAX_DOT
            )
            self.dots.setData(x=xy[:, 0], y=xy[:, 1], size=sizes)

    def _readout(self, answer: Answer) -> str:
        parts = []
        samples = answer.value.samples
        if samples is not None:
            count = len(samples.weights)
            parts.append(f"ESS {samples.effective_sample_size:,.1f} of {count:,}")
            parts.append(
                f"IS log p(x) ≈ {nats(samples.log_likelihood)} ± {samples.standard_error:.1f}"
            )
        quadrature = self._known_quadrature(answer.generation, answer.request.selected)
        if quadrature is not None:
            parts.append(f"quadrature {nats(quadrature)}")
        elif len(answer.request.origin) > 2:
            names = self.state.plane.axis_names
            parts.append(f"p(z|x) on the slice {names[0]}, {names[1]} (other dimensions fixed)")
        figures = " · ".join(parts) or "p(z|x) ∝ p(x|z) p(z) on the visible plane"
        return (
            f"{BINARISED_INPUT}, as in training · {figures}"
            if scores_binary(self.shown.model)
            else figures
        )
