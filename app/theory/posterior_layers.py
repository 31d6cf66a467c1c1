"""The selected input's true posterior p(z|x) ∝ p(x|z) p(z) as a heat map on the latent map (under
q(z|x)'s ellipses), and K importance samples from the prior or from q(z|x) as dots sized by their
normalised weights, with the effective sample size and the estimate of log p(x) beside the map.

Off, they do no work. On, each refresh runs on a worker with a copy of the model of its own; one
runs at a time, and an answer to a request that has since been overtaken is dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
import torch
import torch.nn.functional as F
from PySide6.QtCore import QObject, QRectF, QTimer, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QLabel, QSpinBox

from app.choice_combo import with_reason
from app.naming import named
from app.state import ModelOnShow, ShownModel
from app.workers import start_job, use_torch_threads
from vae_core.config import ModelConfig
from vae_core.evaluation.true_posterior import (
    READOUT_RESOLUTION,
    Box,
    ImportanceSamples,
    PosteriorGrid,
    importance_samples,
    log_likelihood_quadrature,
    posterior_heat_map,
)
from vae_core.models import LatentModel, build_model

# Grid points a side of the heat map over the part of the visible range that holds the posterior
# (found on a coarser grid first): a refresh under 100 ms on a 784-400-2 MLP on one core.
HEAT_MAP_RESOLUTION = 40
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


@dataclass(frozen=True)
class SelectedInput:
    """What a job needs of the model on show and of the input selected on the map."""

    config: ModelConfig
    weights: Mapping[str, torch.Tensor]
    generation: int
    index: int
    image: torch.Tensor  # (C, H, W)
    label: int | None


def selected_input(shown: ShownModel) -> SelectedInput | None:
    state, model = shown.explorer, shown.model
    if model is None or shown.weights is None or state.selected is None or state.examples is None:
        return None
    images, labels = state.examples.batch(torch.tensor([state.selected]))
    label = int(labels[0]) if model.capabilities.conditional else None
    return SelectedInput(
        model.config.model, shown.weights, shown.generation, state.selected, images[0], label
    )


def model_copy(selected: SelectedInput, model: LatentModel | None) -> LatentModel:
    """`model` (built when None) holding the selected input's weights, for a job's thread only."""
    use_torch_threads(1)  # the cores are training's
    if model is None:
        model = build_model(selected.config).eval().requires_grad_(False)
    model.load_state_dict(selected.weights)
    return model


@dataclass(frozen=True)
class LayersRequest:
    key: int
    selected: SelectedInput
    origin: np.ndarray  # the map's plane: (D,)
    basis: np.ndarray  # (2, D)
    visible: Box | None  # None: no heat map
    samples: int  # K, 0 for no samples
    proposal: str
    quadrature: bool  # log p(x) by quadrature too (2-D latents)


@dataclass(frozen=True)
class LayersAnswer:
    request: LayersRequest
    grid: PosteriorGrid | None = None
    samples: ImportanceSamples | None = None
    quadrature: float | None = None  # log p(x), in an answer of its own
    model: LatentModel | None = None  # the job's copy, for the next job


def refresh_layers(request: LayersRequest, model: LatentModel | None = None) -> LayersAnswer:
    """One refresh's work: the heat map's grid and the importance samples, as asked."""
    selected = request.selected
    model = model_copy(selected, model)
    image, label = selected.image, selected.label
    grid = samples = None
    if request.visible is not None:
        grid = posterior_heat_map(
            model, image, label, request.visible, HEAT_MAP_RESOLUTION, request.origin, request.basis
        )
    if request.samples:
        samples = importance_samples(model, image, label, request.samples, request.proposal)
    return LayersAnswer(request, grid, samples, model=model)


def compute_layers(request: LayersRequest, model: LatentModel | None = None):
    """A job: the layers (yielded), then log p(x) by quadrature where asked (returned), so that
    the layers need not wait for it."""
    answer = refresh_layers(request, model)
    yield answer
    if request.quadrature:
        selected = request.selected
        quadrature = log_likelihood_quadrature(
            answer.model, selected.image, selected.label, READOUT_RESOLUTION
        )
        return LayersAnswer(request, quadrature=quadrature)
    return None


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
        place_controls: Callable,
        on_error: Callable[[str], None],
        parent=None,
    ):
        super().__init__(parent)
        self.explorer, self.shown, self.state = explorer, shown, shown.explorer
        self._on_error = on_error
        self._key = 0  # the newest request's number: older answers are dropped
        self._running = False
        self._pending = False
        self._model: LatentModel | None = None
        self._quadrature: tuple[tuple, float] | None = None  # ((generation, index), log p(x))
        self._drawn: LayersAnswer | None = None
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
            "x is the selected image binarised once, as training sees it; the yellow ellipses are q of the grey image."
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
        return not self._running and not self._pending

    # What changes the layers.
    def _model_changed(self) -> None:
        self._model = None
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
        self._key += 1
        heat_map, samples = self.posterior_check.isChecked(), self.samples_check.isChecked()
        if not (heat_map or samples) or not self.posterior_check.isEnabled():
            self._clear("")
            return
        selected = selected_input(self.shown)
        if selected is None:
            self._clear(NO_SELECTION)
            return
        if self._running:
            self._pending = True
            return
        plane = self.state.plane
        cache_key = (selected.generation, selected.index)
        request = LayersRequest(
            key=self._key,
            selected=selected,
            origin=plane.origin,
            basis=plane.basis,
            visible=self.explorer.map.visible_range() if heat_map else None,
            samples=self.count_spin.value() if samples else 0,
            proposal=self.proposal_combo.currentData(),
            quadrature=plane.latent_dim == 2
            and (self._quadrature is None or self._quadrature[0] != cache_key),
        )
        self._running = True
        start_job(
            compute_layers,
            request,
            self._model,
            on_yield=self._answered,
            on_result=self._answered,
            on_error=self._failed,
            on_finished=self._finished,
        )

    def _answered(self, answer: LayersAnswer | None) -> None:
        if answer is None:
            return
        selected = answer.request.selected
        on_show = self.shown.model
        if (
            answer.model is not None
            and on_show is not None
            and selected.config == on_show.config.model
        ):
            self._model = answer.model
        if answer.quadrature is not None:
            self._quadrature = ((selected.generation, selected.index), answer.quadrature)
        if answer.request.key != self._key:
            return
        if answer.quadrature is None:
            self._drawn = answer
            self._draw(answer)
        if self._drawn is not None:  # log p(x) by quadrature joins the layers' readout
            self.readout.setText(self._readout(self._drawn))
        self.layersDrawn.emit()

    def _finished(self) -> None:
        self._running = False
        if self._pending:
            self._pending = False
            self.request()

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

    def _draw(self, answer: LayersAnswer) -> None:
        grid, samples = answer.grid, answer.samples
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

    def _readout(self, answer: LayersAnswer) -> str:
        parts = []
        samples = answer.samples
        if samples is not None:
            count = len(samples.weights)
            parts.append(f"ESS {samples.effective_sample_size:,.1f} of {count:,}")
            parts.append(
                f"IS log p(x) ≈ {nats(samples.log_likelihood)} ± {samples.standard_error:.1f}"
            )
        if self._quadrature is not None and self._quadrature[0] == (
            answer.request.selected.generation,
            answer.request.selected.index,
        ):
            parts.append(f"quadrature {nats(self._quadrature[1])}")
        elif len(answer.request.origin) > 2:
            names = self.state.plane.axis_names
            parts.append(f"p(z|x) on the slice {names[0]}, {names[1]} (other dimensions fixed)")
        return " · ".join(parts) if parts else "p(z|x) ∝ p(x|z) p(z) on the visible plane"
