"""The role of the prior on the latent map: the aggregate posterior q(z) = (1/N) Σₙ q(z|xₙ) of the
map's examples as a density (`aggregatePosteriorLayer`), and the prior samples that land in its
holes (`holesLayer`); the "Aggregate posterior" page's figures come from the same pass.

The map's examples are encoded again (means and spreads: the explorer keeps only the means) on a
worker with its own copy of the weights whenever the weights change while a box is ticked or the
page is on screen, paced like the explorer's own encoding; a pan or zoom reuses the last
encoding. With both boxes off and the page hidden nothing runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
import torch
from PySide6.QtCore import QObject, QRectF, QTimer
from PySide6.QtWidgets import QCheckBox

from app.choice_combo import with_reason
from app.explorer.explorer import LatentExplorer
from app.explorer.latent_ops import LatentPlane
from app.explorer.model_access import ENCODE_CHUNK, ExplorerModel
from app.naming import named
from app.pacing import DutyCycle
from app.state import ModelOnShow, ShownModel
from app.theory.aggregate_page import AggregatePosteriorPage
from app.workers import start_job, use_torch_threads
from vae_core.data import ImageDataset
from vae_core.evaluation.aggregate_posterior import (
    HOLE_RATIO,
    AggregatePosterior,
    Holes,
    KlEstimate,
    find_holes,
    kl_to_prior,
)
from vae_core.models import LatentModel, build_model

if TYPE_CHECKING:
    from app.theory.host import TheoryViews

# The density is evaluated at GRID x GRID cell centres over the visible range, and drawn over
# SPAN_NATS below its peak (fainter is less dense; below that, transparent).
GRID = 48
SPAN_NATS = 6.0
PRIOR_SAMPLES = 1000  # M, the prior samples tested for holes
KL_SAMPLES = 1000
HOLE_DECODES = 32
COVERED_DECODES = 8
# Encodings start at least this far apart while weights stream, and take at most this share of the time.
REFRESH_INTERVAL_S = 1.0
REFRESH_SHARE = 0.05
Z_DENSITY, Z_HOLES = -5, 12

NO_GAUSSIAN_POSTERIOR = (
    "a VQ-VAE has no Gaussian q(z|x) to average and no density p(z) to compare with"
)
DENSITY_TIP = (
    "The aggregate posterior q(z) = (1/N) Σₙ q(z|xₙ) of the map's N test examples, in green (brighter: more "
    "codes), beside the prior's contours: where the encoder puts the data. Where the prior has mass and q(z) "
    "has none, samples from p(z) decode codes the decoder never trained on."
)
HOLES_TIP = (
    f"{PRIOR_SAMPLES:,} samples of the prior p(z); red crosses where q(z)/p(z) < {HOLE_RATIO:g} (a hole: the "
    "prior draws codes there that the data never gets). Their decodes are on the Aggregate posterior page."
)
SLICE_TIP = (
    "\n\nAbove 2-D: the density is the slice of the D-dimensional q(z) on the map's plane (the other "
    "dimensions fixed at the plane's origin); the holes are judged in all D dimensions and projected onto the plane."
)
HVAE_TIP = (
    "\n\nHierarchical VAE: for the top layer z2, each example's q(z2|x) is taken as q(z2|z1) at the mean of "
    "q(z1|x), the Gaussian the map draws; the true q(z2|x) mixes over z1 and is a little wider."
)


@dataclass(frozen=True)
class AggregateRequest:
    """One refresh's work: what to compute, for which model and weights."""

    model: ModelOnShow
    weights: Mapping[str, torch.Tensor]
    examples: ImageDataset
    encoder: LatentModel | None  # a copy from the last pass, holding `components`' weights
    components: AggregatePosterior | None  # None: encode the examples with `weights`
    plane: LatentPlane
    visible_range: tuple[tuple[float, float], tuple[float, float]] | None  # None: no density
    holes: bool
    page: bool
    label: int


@dataclass(frozen=True)
class AggregateAnswer:
    request: AggregateRequest
    encoder: LatentModel
    components: AggregatePosterior
    density: (
        np.ndarray | None
    )  # (GRID, GRID) log q(z), row r at the r-th grid value of the plane's v
    bounds: tuple[float, float, float, float] | None  # left, bottom, width, height
    holes: Holes | None
    holes_xy: np.ndarray | None  # the prior samples on the plane (M, 2)
    kl: KlEstimate | None
    hole_images: np.ndarray | None
    covered_images: np.ndarray | None
    seconds: float


def encode_aggregate(access: ExplorerModel, examples: ImageDataset) -> AggregatePosterior:
    """q(z|xₙ) of every example: its means and spreads."""
    parts = [
        access.posterior(
            *examples.batch(torch.arange(start, min(start + ENCODE_CHUNK, len(examples))))
        )
        for start in range(0, len(examples), ENCODE_CHUNK)
    ]
    return AggregatePosterior.of(
        np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    )


def density_on_plane(
    aggregate: AggregatePosterior, plane: LatentPlane, x_range, y_range, grid: int = GRID
):
    """log q(z) at the centres of a grid x grid lattice over the range, (grid, grid) with rows
    along v, and the lattice's bounds (left, bottom, width, height)."""
    (x0, x1), (y0, y1) = x_range, y_range
    xs = x0 + (np.arange(grid) + 0.5) * (x1 - x0) / grid
    ys = y0 + (np.arange(grid) + 0.5) * (y1 - y0) / grid
    points = np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2)  # row-major: rows along v
    log_density = (
        aggregate.log_density(plane.codes(points), torch.float32).numpy().reshape(grid, grid)
    )
    return log_density, (x0, y0, x1 - x0, y1 - y0)


def _prior_log_prob(access: ExplorerModel):
    return lambda z: torch.from_numpy(access.prior_log_density(z.numpy()))


def prior_holes(
    access: ExplorerModel, aggregate: AggregatePosterior, count: int = PRIOR_SAMPLES
) -> Holes:
    """`count` prior samples (the same draws at every refresh: the crosses stay put) tested for holes."""
    with torch.no_grad():
        samples = access.model.prior_module().sample(
            count, generator=torch.Generator().manual_seed(0)
        )
    return find_holes(aggregate, samples, _prior_log_prob(access))


def refresh_aggregate(request: AggregateRequest) -> AggregateAnswer:
    """One refresh's whole work (the job; also what the benchmark times)."""
    use_torch_threads(1)
    started = time.perf_counter()
    encoder, components = request.encoder, request.components
    if encoder is None:
        encoder = build_model(request.model.config.model)
        components = None
    access = ExplorerModel(encoder)
    if components is None:
        access.load_weights(request.weights)
        components = encode_aggregate(access, request.examples)
    density = bounds = holes = holes_xy = kl = hole_images = covered_images = None
    if request.visible_range is not None:
        density, bounds = density_on_plane(components, request.plane, *request.visible_range)
    if request.holes or request.page:
        holes = prior_holes(access, components)
        holes_xy = request.plane.project(holes.samples.numpy())
    if request.page:
        kl = kl_to_prior(
            components, _prior_log_prob(access), KL_SAMPLES, torch.Generator().manual_seed(0)
        )
        if not access.planar:
            codes = holes.samples.numpy()
            hole_images = access.decode(codes[holes.deepest(HOLE_DECODES).numpy()], request.label)
            covered_images = access.decode(
                codes[holes.covered(COVERED_DECODES).numpy()], request.label
            )
    return AggregateAnswer(
        request,
        encoder,
        components,
        density,
        bounds,
        holes,
        holes_xy,
        kl,
        hole_images,
        covered_images,
        time.perf_counter() - started,
    )


def density_lookup_table() -> np.ndarray:
    """(256, 4) RGBA: transparent dark green at the faint end to yellow-green, mostly opaque, at the peak
    (the true posterior's layer uses another map)."""
    ramp = np.linspace(0.0, 1.0, 256)[:, None]
    colour = (1 - ramp) * np.array([0, 110, 60]) + ramp * np.array([190, 255, 90])
    return np.concatenate([colour, 200 * ramp], axis=1).astype(np.uint8)


class AggregateLayers(QObject):
    """The two map layers, their boxes in the seed's row under the map, and the page."""

    def __init__(
        self,
        shown: ShownModel,
        explorer: LatentExplorer,
        show_error: Callable[[str], None],
        host: TheoryViews,
    ):
        super().__init__(host)
        self.shown = shown
        self.explorer = explorer
        self.map = explorer.map
        self._show_error = show_error
        self.density_check = named(
            QCheckBox("Aggregate q(z)"),
            "aggregatePosteriorCheckBox",
            "Show the aggregate posterior",
        )
        self.holes_check = named(QCheckBox("Holes"), "holesCheckBox", "Show prior samples in holes")
        host.add_map_controls(self.density_check, self.holes_check)
        self.page = AggregatePosteriorPage(HOLE_RATIO)
        host.add_page("Aggregate posterior", self.page)
        self.density_layer = pg.ImageItem(axisOrder="row-major")
        self.density_layer.setObjectName("aggregatePosteriorLayer")
        self.density_layer.setZValue(Z_DENSITY)
        self.density_layer.setLookupTable(density_lookup_table())
        self.holes_layer = pg.ScatterPlotItem()
        self.holes_layer.setObjectName("holesLayer")
        self.holes_layer.setZValue(Z_HOLES)
        for item in (self.density_layer, self.holes_layer):
            self.map.plot.addItem(item)
        self._pace = DutyCycle(REFRESH_INTERVAL_S, REFRESH_SHARE)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._start)
        self._running = False
        self._again = False
        self._weights_due = True
        self._last: AggregateAnswer | None = None  # the newest pass's answer for the model on show
        self._failed_for: ModelOnShow | None = None
        self.shown.model_changed.connect(self._model_changed)
        self.shown.weights_changed.connect(self._weights_changed)
        self.explorer.state.events.plane.connect(self.request)
        self.explorer.state.events.label.connect(self.request)
        self.map.rangeChanged.connect(self.request)
        self.density_check.toggled.connect(self._toggled)
        self.holes_check.toggled.connect(self._toggled)
        self.page.visibilityChanged.connect(self._toggled)
        self._model_changed()

    # What is wanted now.
    def _supported(self) -> bool:
        model = self.shown.model
        return (
            model is not None
            and model.capabilities.samples_posterior
            and model.capabilities.has_prior_density
        )

    def _wanted(self) -> tuple[bool, bool, bool]:
        """(density, holes, page), each only where it applies."""
        if not self._supported() or self.shown.explorer.examples is None:
            return False, False, False
        return self.density_check.isChecked(), self.holes_check.isChecked(), self.page.isVisible()

    # What changed.
    def _model_changed(self) -> None:
        self._timer.stop()
        self._last = None
        self._weights_due = True
        self._pace.due_now()
        model = self.shown.model
        reason = "" if model is None or self._supported() else NO_GAUSSIAN_POSTERIOR
        notes = ""
        if model is not None and model.latent_positions_dim > 2:
            notes += SLICE_TIP
        if model is not None and model.capabilities.latent_layers == 2:
            notes += HVAE_TIP
        for check, tip in ((self.density_check, DENSITY_TIP), (self.holes_check, HOLES_TIP)):
            check.setEnabled(not reason)
            check.setToolTip(with_reason(tip + notes, reason))
        if reason:
            self.page.show_unavailable(f"Not used now: {reason}")
        self._draw(None)
        self.request()

    def _weights_changed(self, _generation: int) -> None:
        self._weights_due = True
        if any(self._wanted()):
            self.request(paced=True)

    def _toggled(self, *_) -> None:
        self._draw(self._last)
        self.request()

    def request(self, *_, paced: bool = False) -> None:
        """Refresh what is wanted: at once after a change of view, paced after new weights."""
        if not any(self._wanted()):
            return
        if self._running:
            self._again = True
            return
        wait_s = self._pace.wait_s(time.perf_counter()) if paced else 0.0
        if not self._timer.isActive() or wait_s == 0.0:
            self._timer.start(int(wait_s * 1000))

    # The pass.
    def _start(self) -> None:
        density, holes, page = self._wanted()
        model, weights = self.shown.model, self.shown.weights
        if not (density or holes or page) or weights is None or self._running:
            return
        last = self._last
        encode = self._weights_due or last is None
        state = self.shown.explorer
        request = AggregateRequest(
            model=model,
            weights=weights,
            examples=state.examples,
            encoder=None if last is None else last.encoder,
            components=None if encode else last.components,
            plane=state.plane,
            visible_range=self.map.visible_range() if density else None,
            holes=holes,
            page=page,
            label=state.label,
        )
        if encode:
            self._weights_due = False
            self._pace.started(time.perf_counter())
        self._running = True
        start_job(refresh_aggregate, request, on_result=self._done, on_error=self._failed)

    def _done(self, answer: AggregateAnswer) -> None:
        self._running = False
        if answer.request.model is not self.shown.model:
            self.request()  # another model came on show meanwhile: a pass of its own
            return
        if answer.request.components is None:
            self._pace.spent(answer.seconds)
        self._last = self._merged(answer)
        self._draw(self._last)
        if self._again or self._weights_due:
            self._again = False
            self.request(paced=self._weights_due)

    def _merged(self, answer: AggregateAnswer) -> AggregateAnswer:
        """The answer, keeping the last one's figures for what this pass was not asked for (so
        ticking a box back on draws at once)."""
        last = self._last
        if last is None or answer.request.components is None:
            return answer
        kept = {}
        if answer.density is None:
            kept.update(density=last.density, bounds=last.bounds)
        if answer.holes is None:
            kept.update(holes=last.holes, holes_xy=last.holes_xy)
        if answer.kl is None:
            kept.update(
                kl=last.kl, hole_images=last.hole_images, covered_images=last.covered_images
            )
        return replace(answer, **kept)

    def _failed(self, error: Exception) -> None:
        """Said once per model: a pass that fails would fail again with each new weights."""
        self._running = False
        if self._failed_for is not self.shown.model:
            self._failed_for = self.shown.model
            self._show_error(f"the aggregate posterior could not be computed: {error}")

    # Drawing.
    def _draw(self, answer: AggregateAnswer | None) -> None:
        density, holes, page = self._wanted()
        if density and answer is not None and answer.density is not None:
            self._draw_density(answer.density, answer.bounds)
        else:
            self.density_layer.clear()
        if holes and answer is not None and answer.holes is not None:
            self._draw_holes(answer.holes, answer.holes_xy)
        else:
            self.holes_layer.clear()
        if page and answer is not None and answer.kl is not None:
            self.page.show_answer(
                (answer.kl.value, answer.kl.standard_error),
                answer.holes.count,
                len(answer.holes.samples),
                answer.components.components,
                answer.hole_images,
                answer.covered_images,
            )

    def _draw_density(self, log_density: np.ndarray, bounds) -> None:
        shade = np.clip((log_density - (log_density.max() - SPAN_NATS)) / SPAN_NATS, 0.0, 1.0)
        self.density_layer.setImage(shade, levels=(0.0, 1.0), autoLevels=False)
        self.density_layer.setRect(QRectF(*bounds))

    def _draw_holes(self, holes: Holes, xy: np.ndarray) -> None:
        in_hole = holes.in_hole.numpy()
        self.holes_layer.setData(
            pos=np.concatenate([xy[~in_hole], xy[in_hole]]),
            symbol=["o"] * int((~in_hole).sum()) + ["x"] * int(in_hole.sum()),
            size=np.concatenate([np.full((~in_hole).sum(), 3.0), np.full(in_hole.sum(), 10.0)]),
            brush=[pg.mkBrush(255, 255, 255, 70)] * int((~in_hole).sum())
            + [pg.mkBrush(230, 30, 30)] * int(in_hole.sum()),
            pen=None,
        )
