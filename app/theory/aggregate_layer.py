"""The role of the prior on the latent map: the aggregate posterior q(z) = (1/N) Σₙ q(z|xₙ) of the
map's examples as a density (`aggregatePosteriorLayer`), and the prior samples that land in its
holes (`holesLayer`); the "Aggregate posterior" page's figures come from the same pass.

The view asks `ModelJobs` for the figure (`vae_core.figures.aggregate`): the map's examples
encoded again (means and spreads: the explorer keeps only the means) whenever the weights change
while a box is ticked or the page is on screen, a paced request; a pan or zoom reuses the last
encoding. With both boxes off and the page hidden nothing is asked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, QRectF
from PySide6.QtWidgets import QCheckBox

from app.choice_combo import with_reason
from app.controllers.explorer import LatentExplorer
from app.controllers.job_kinds import AGGREGATE_POSTERIOR
from app.controllers.model_jobs import Answer
from app.naming import named
from app.state import ShownModel
from app.theory.aggregate_page import AggregatePosteriorPage
from vae_core.evaluation.aggregate_posterior import HOLE_RATIO, Holes
from vae_core.figures.aggregate import PRIOR_SAMPLES, AggregateRequest

if TYPE_CHECKING:
    from app.controllers.model_jobs import ModelJobs
    from app.theory.host import TheoryViews

# The density is drawn over SPAN_NATS below its peak (fainter is less dense; below that,
# transparent).
SPAN_NATS = 6.0
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
        jobs: ModelJobs,
        show_error: Callable[[str], None],
        host: TheoryViews,
    ):
        super().__init__(host)
        self.shown = shown
        self._line = jobs.line(AGGREGATE_POSTERIOR, self, self._done, self._failed)
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
        self._last: Answer | None = None  # the newest pass's answer for the model on show
        self._failed_for = None  # the model whose failure was said (once is enough)
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
        on_map = self.shown.explorer.plane_decodes  # t-SNE's map has no plane of codes for q(z)
        density, holes = self.density_check.isChecked(), self.holes_check.isChecked()
        return density and on_map, holes and on_map, self.page.isVisible()

    # What changed.
    def _model_changed(self) -> None:
        self._line.cancel()
        self._last = None
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
        if any(self._wanted()):
            self.request(paced=True)

    def _toggled(self, *_) -> None:
        self._draw(self._last)
        self.request()

    def request(self, *_, paced: bool = False) -> None:
        """Refresh what is wanted: at once after a change of view, paced after new weights (which
        encode the examples again; a change of view reuses the last encoding)."""
        density, holes, page = self._wanted()
        if not (density or holes or page) or self.shown.weights is None:
            self._draw(self._last)  # the layers no longer wanted go
            return
        last, state = self._last, self.shown.explorer
        encoded = last is not None and last.generation == self.shown.generation
        request = AggregateRequest(
            examples=state.examples,
            components=last.value.components if encoded else None,
            plane=state.plane,
            visible_range=self.map.visible_range() if density else None,
            holes=holes,
            page=page,
            label=state.label,
        )
        self._line.ask(request, paced=paced)

    def _done(self, answer: Answer) -> None:
        self._last = self._merged(answer)
        self._draw(self._last)

    def _merged(self, answer: Answer) -> Answer:
        """The answer, keeping the last one's figures for what this pass was not asked for (so
        ticking a box back on draws at once)."""
        if self._last is None or answer.request.components is None:
            return answer
        last, new = self._last.value, answer.value
        kept = {}
        if new.density is None:
            kept.update(density=last.density, bounds=last.bounds)
        if new.holes is None:
            kept.update(holes=last.holes, holes_xy=last.holes_xy)
        if new.kl is None:
            kept.update(
                kl=last.kl, hole_images=last.hole_images, covered_images=last.covered_images
            )
        return replace(answer, value=replace(new, **kept))

    def _failed(self, error: Exception) -> None:
        """Said once per model: a pass that fails would fail again with each new weights."""
        if self._failed_for is not self.shown.model:
            self._failed_for = self.shown.model
            self._show_error(f"the aggregate posterior could not be computed: {error}")

    # Drawing.
    def _draw(self, drawn: Answer | None) -> None:
        density, holes, page = self._wanted()
        answer = None if drawn is None else drawn.value
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
