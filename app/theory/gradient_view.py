"""The "Gradient estimators" page: the seed's reparameterization trick against its log-derivative
trick, for the selected input of the map (or, with none selected, a few of the map's examples).

Both estimate the gradient of the ELBO with respect to q(z|x)'s mean and log-variance; the page
plots each one's variance against the number of samples K on log axes and reads out their mean
gradients, which agree, and the ratio of their variances, which is large. The page asks
`ModelJobs` for the study (`vae_core.figures.gradients`) only while it is on screen, again when
the selection or the weights change (new weights are a paced request: a training run keeps its
cores).
"""

from __future__ import annotations

import time

import numpy as np
import pyqtgraph as pg
import torch
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from app.controllers.job_kinds import GRADIENT_STUDY
from app.controllers.model_jobs import Answer, ModelJobs
from app.explorer.lazy_page import LazyPage
from app.naming import named
from app.state import ShownModel
from vae_core.evaluation.gradient_estimators import REPEATS, GradientVarianceReport
from vae_core.figures.gradients import GradientRequest
from vae_core.models import Capabilities

# With nothing selected: this many of the map's examples, each with fewer repeats, so that the
# study costs what one input's does (BATCH_INPUTS x BATCH_REPEATS averages at the largest K).
BATCH_INPUTS = 5
BATCH_REPEATS = 2
# Gradient components read out, per half (μ and log σ²): the first latent dimensions.
SHOWN_DIMENSIONS = 2

_STYLES = {
    "reparameterization": ("reparameterization", "#56b4e9", "o"),
    "score_function": ("score function", "#e69f00", "s"),
}


def not_applicable_reason(capabilities: Capabilities) -> str | None:
    if not capabilities.samples_posterior:
        return "VQ-VAE's encoder is deterministic: there is no Gaussian q(z|x) whose mean and variance a gradient could reach"
    if capabilities.latent_layers != 1:
        return "the hierarchical VAE has two latent layers; these estimators are for one Gaussian layer"
    return None


class GradientEstimatorsPage(LazyPage):
    """Holds `gradientVariancePlot` and the readout; draws the answers of its own studies."""

    studied = Signal(object)  # the GradientVarianceReport just drawn
    errorOccurred = Signal(str)

    def __init__(self, shown: ShownModel, jobs: ModelJobs, parent: QWidget | None = None):
        super().__init__(parent)
        named(self, "gradientEstimatorsPage", "Gradient estimators")
        self.shown = shown
        self.report: GradientVarianceReport | None = None
        self._line = jobs.line(GRADIENT_STUDY, self, self._answered, self._failed)
        self.source = named(QLabel(), "gradientSource", "Which inputs the gradients are for")
        self.source.setWordWrap(True)
        self._build_plot()
        self.readout = named(
            QLabel(),
            "gradientReadout",
            "Mean gradients of the two estimators and their variance ratio",
        )
        self.readout.setWordWrap(True)
        self.readout.setTextFormat(Qt.TextFormat.RichText)
        self.status = named(QLabel(), "gradientStatus", "How the gradient study was made")
        self.status.setWordWrap(True)

        # Side by side: the views' dock is wide and short.
        text = QVBoxLayout()
        for label in (self.source, self.readout, self.status):
            text.addWidget(label)
        text.addStretch(1)
        layout = QHBoxLayout(self)
        layout.addWidget(self.plot, 3)
        layout.addLayout(text, 2)

        shown.model_changed.connect(self._model_changed)
        shown.explorer.events.posterior.connect(self.request_refresh)
        shown.explorer.events.decoded_generation.connect(self._weights_moved)
        self._model_changed()

    def _build_plot(self) -> None:
        """Each estimator's variance against K, with error bars, on log axes."""
        self.plot = named(
            pg.PlotWidget(),
            "gradientVariancePlot",
            "Variance of the two gradient estimators against K",
        )
        item = self.plot.getPlotItem()
        item.setMenuEnabled(False)
        item.hideButtons()
        item.setMouseEnabled(x=False, y=False)
        item.setLogMode(x=True, y=True)
        item.showGrid(x=True, y=True, alpha=0.2)
        item.setLabel("bottom", "samples K")
        item.setLabel("left", "variance (trace)")
        item.addLegend(offset=(-10, 10))
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.error_bars: dict[str, pg.PlotDataItem] = {}
        for key, (label, colour, symbol) in _STYLES.items():
            self.curves[key] = item.plot(
                [],
                [],
                name=label,
                pen=pg.mkPen(colour, width=2),
                symbol=symbol,
                symbolSize=8,
                symbolBrush=colour,
                symbolPen=None,
            )
            self.error_bars[key] = item.plot(
                [], [], pen=pg.mkPen(colour, width=1.5), connect="pairs"
            )

    @property
    def busy(self) -> bool:
        """Whether a study is under way or due."""
        return not self._line.idle

    # What changed.
    def _model_changed(self) -> None:
        self._line.cancel()  # the answer under way, if any, is for another model
        self.show_report(None)
        model = self.shown.model
        reason = None if model is None else not_applicable_reason(model.capabilities)
        self.plot.setEnabled(reason is None)
        self.plot.setToolTip(
            f"Not used now: {reason}"
            if reason
            else "Each estimator's variance against the number of samples it averages, on log axes: both fall as 1/K,"
            " the score function's from far higher. Bars: ± one standard error."
        )
        if model is None:
            self.source.setText(
                "Train a model or open a checkpoint: the gradient estimators study its encoder's outputs."
            )
        else:
            self.source.setText(
                ""
                if reason is None
                else f"The gradient estimators do not apply to this model: {reason}."
            )
        self.request_refresh()

    def _weights_moved(self) -> None:
        if self.isVisible():
            self._ask(paced=True)
        else:
            self.request_refresh()

    # The study, asked of the jobs controller.
    def _selected(self) -> int | None:
        explorer = self.shown.explorer
        return explorer.selected if explorer.posterior is not None else None

    def _request(self) -> GradientRequest | None:
        shown = self.shown
        model, examples = shown.model, shown.explorer.examples
        if not self._applies() or shown.weights is None or examples is None or len(examples) == 0:
            return None
        selected = self._selected()
        if selected is None:
            indices, repeats = torch.arange(min(BATCH_INPUTS, len(examples))), BATCH_REPEATS
        else:
            indices, repeats = torch.tensor([selected]), REPEATS
        images, labels = examples.batch(indices)
        conditional = model.capabilities.conditional
        return GradientRequest(images, labels if conditional else None, repeats, selected)

    def _applies(self) -> bool:
        model = self.shown.model
        return model is not None and not_applicable_reason(model.capabilities) is None

    def refresh(self) -> None:
        self._ask(paced=False)

    def _ask(self, paced: bool) -> None:
        """A study for the selection as it is now; `paced`, for newer weights only."""
        request = self._request()
        if request is None:
            self._line.cancel()
            return
        self.source.setText(_describe_source(request) + " Measuring…")
        self._line.ask(request, paced=paced)

    def _answered(self, answer: Answer) -> None:
        study = answer.value
        self.source.setText(_describe_source(answer.request))
        started = time.perf_counter()
        self.show_report(study.report)
        self.status.setText(
            f"{study.report.draws:,} draws per input, shared by both estimators (each K's variance from all of them);"
            f" measured in {study.seconds:.2f} s, drawn in {1000 * (time.perf_counter() - started):.0f} ms."
        )
        self.studied.emit(study.report)

    def _failed(self, error: Exception) -> None:
        self.errorOccurred.emit(f"the gradient estimators could not be measured: {error}")

    # Drawing.
    def show_report(self, report: GradientVarianceReport | None) -> None:
        """One redraw: both curves with their error bars, and the readout."""
        self.report = report
        for key, figures in (
            ()
            if report is None
            else zip(_STYLES, (report.reparameterization, report.score_function))
        ):
            counts, variance = (
                np.asarray(figures.sample_counts, float),
                np.asarray(figures.variance),
            )
            self.curves[key].setData(counts, variance)
            if key == "reparameterization":
                self.plot.getPlotItem().getAxis("bottom").setTicks(
                    [[(np.log10(count), f"{count:,.0f}") for count in counts]]
                )
            error = np.asarray(figures.variance_error)
            # On log axes a bar cannot reach zero: its foot stops at a hundredth of the value.
            low, high = np.maximum(variance - error, variance / 100), variance + error
            self.error_bars[key].setData(np.repeat(counts, 2), np.column_stack([low, high]).ravel())
        if report is None:
            for item in (*self.curves.values(), *self.error_bars.values()):
                item.setData([], [])
            self.readout.setText("")
            self.status.setText("")
            return
        self.readout.setText(_readout(report))


def _describe_source(request: GradientRequest) -> str:
    selected = request.selected
    if selected is not None:
        return f"For the selected input (example {selected} of the map)."
    return (
        f"No input selected: the mean over the map's first {len(request.images)} examples (click a point on the map to"
        " study one input)."
    )


def _readout(report: GradientVarianceReport) -> str:
    dims = report.latent_dim
    shown = min(dims, SHOWN_DIMENSIONS)
    more = f" (z0…z{shown - 1} of {dims} dimensions)" if shown < dims else ""
    reparameterized, score = report.reparameterization, report.score_function
    rows = [
        f"<tr><td>∂/∂{part}<sub>{index}</sub></td>"
        + "".join(
            f"<td align='right'>{f.mean[offset + index]:+.3g} ± {f.mean_error[offset + index]:.2g}</td>"
            for f in (reparameterized, score)
        )
        + "</tr>"
        for part, offset in (("μ", 0), ("log σ²", dims))
        for index in range(shown)
    ]
    apart = np.abs(score.mean - reparameterized.mean) / np.hypot(
        score.mean_error, reparameterized.mean_error
    )
    ratios = ", ".join(
        f"{ratio:,.0f}× at K = {count:,}"
        for count, ratio in zip(report.sample_counts, report.variance_ratio)
    )
    return (
        f"<b>Mean gradient of the ELBO</b>{more}, every draw averaged (± standard error):"
        "<table cellspacing='0' cellpadding='3'><tr><th></th><th>reparameterization</th><th>score function</th></tr>"
        + "".join(rows)
        + f"</table>They differ by at most {apart.max():.1f} standard errors: one gradient, two estimators."
        f"<br><b>Variance ratio</b>, score function / reparameterization: {ratios}."
    )
