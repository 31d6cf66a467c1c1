"""The "Gradient estimators" page: the seed's reparameterization trick against its log-derivative
trick, for the selected input of the map (or, with none selected, a few of the map's examples).

Both estimate the gradient of the ELBO with respect to q(z|x)'s mean and log-variance; the page
plots each one's variance against the number of samples K on log axes and reads out their mean
gradients, which agree, and the ratio of their variances, which is large. The study runs on a
worker, only while the page is on screen, again when the selection or the weights change (paced,
so that a training run keeps its cores), and an answer for another model or input is dropped.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
import torch
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from app.explorer.lazy_page import LazyPage
from app.naming import named
from app.pacing import DutyCycle
from app.state import ShownModel
from app.workers import start_job
from vae_core.config import ModelConfig
from vae_core.evaluation.gradient_estimators import (
    REPEATS,
    GradientVarianceReport,
    gradient_variance_study,
)
from vae_core.models import Capabilities, LatentModel, build_model

# With nothing selected: this many of the map's examples, each with fewer repeats, so that the
# study costs what one input's does (BATCH_INPUTS x BATCH_REPEATS averages at the largest K).
BATCH_INPUTS = 5
BATCH_REPEATS = 2
# While weights stream in, a study starts at most this often, and takes at most this share of
# the time (the rest is training's).
STUDY_INTERVAL_S = 1.0
STUDY_SHARE = 0.3
# Gradient components read out, per half (μ and log σ²): the first latent dimensions.
SHOWN_DIMENSIONS = 2

_STYLES = {
    "reparameterization": ("reparameterization", "#56b4e9", "o"),
    "score_function": ("score function", "#e69f00", "s"),
}


@dataclass(frozen=True)
class GradientJob:
    config: ModelConfig
    weights: Mapping[str, torch.Tensor]
    images: torch.Tensor  # (B, C, H, W) in [0, 1]
    labels: torch.Tensor | None  # (B,) where the model is conditional
    repeats: int
    key: tuple  # (model epoch, selected index): an answer for another key is dropped


@dataclass(frozen=True)
class GradientAnswer:
    report: GradientVarianceReport
    key: tuple
    model: LatentModel  # the job's own copy of the model, for the next job
    seconds: float


def study_gradients(job: GradientJob, model: LatentModel | None = None) -> GradientAnswer:
    """One refresh's computation (on a worker): both estimators at every K, for the job's inputs."""
    started = time.perf_counter()
    if model is None:
        model = build_model(job.config).requires_grad_(False)
    model.load_state_dict(job.weights)
    report = gradient_variance_study(model, job.images, job.labels, repeats=job.repeats, seed=0)
    return GradientAnswer(report, job.key, model, time.perf_counter() - started)


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

    def __init__(self, shown: ShownModel, parent: QWidget | None = None):
        super().__init__(parent)
        named(self, "gradientEstimatorsPage", "Gradient estimators")
        self.shown = shown
        self.report: GradientVarianceReport | None = None
        self.model_copy: LatentModel | None = None
        self._model_epoch = 0
        self._running: GradientJob | None = None  # the job under way
        self._pending = False
        self._pace = DutyCycle(STUDY_INTERVAL_S, STUDY_SHARE)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._start)

        self.source = named(QLabel(), "gradientSource", "Which inputs the gradients are for")
        self.source.setWordWrap(True)
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
        shown.explorer.events.posterior.connect(self._on_model_selection)
        shown.explorer.events.decoded_generation.connect(self.request_refresh)
        self._model_changed()

    @property
    def busy(self) -> bool:
        """Whether a study is under way or due."""
        return self._running is not None or self._timer.isActive()

    # What changed.
    def _model_changed(self) -> None:
        self._model_epoch += 1  # the answer under way, if any, is for another model
        self.model_copy = None
        self._pace.due_now()
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

    def _on_model_selection(self) -> None:
        self._pace.due_now()
        self.request_refresh()

    # The study, on a worker.
    def _selected(self) -> int | None:
        explorer = self.shown.explorer
        return explorer.selected if explorer.posterior is not None else None

    def _job(self) -> GradientJob | None:
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
        return GradientJob(
            model.config.model,
            shown.weights,
            images,
            labels if model.capabilities.conditional else None,
            repeats,
            (self._model_epoch, selected),
        )

    def _applies(self) -> bool:
        model = self.shown.model
        return model is not None and not_applicable_reason(model.capabilities) is None

    def refresh(self) -> None:
        if not self._applies():
            return
        if self._running is not None:
            self._pending = True
        elif not self._timer.isActive():
            self._timer.start(int(self._pace.wait_s(time.perf_counter()) * 1000))

    def _start(self) -> None:
        if not self.isVisible():
            self.request_refresh()  # remembered for when the page is shown again
            return
        job = self._job()
        if job is None:
            return
        self._running, self._pending = job, False
        self._pace.started(time.perf_counter())
        self.source.setText(_describe_source(job) + " Measuring…")
        start_job(
            study_gradients, job, self.model_copy, on_result=self._answered, on_error=self._failed
        )

    def _answered(self, answer: GradientAnswer) -> None:
        job, self._running = self._running, None
        self._pace.spent(answer.seconds)
        current = answer.key == (self._model_epoch, self._selected())
        if current:
            self.model_copy = answer.model
            self.source.setText(_describe_source(job))
            started = time.perf_counter()
            self.show_report(answer.report)
            self.status.setText(
                f"{answer.report.draws:,} draws per input, shared by both estimators, {job.repeats} groups at the largest K;"
                f" measured in {answer.seconds:.2f} s, drawn in {1000 * (time.perf_counter() - started):.0f} ms."
            )
            self.studied.emit(answer.report)
        elif answer.key[0] == self._model_epoch:
            self.model_copy = answer.model
        if self._pending or not current:
            self._pending = False
            self.request_refresh()

    def _failed(self, error: Exception) -> None:
        self._running = None
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


def _describe_source(job: GradientJob) -> str:
    selected = job.key[1]
    if selected is not None:
        return f"For the selected input (example {selected} of the map)."
    return (
        f"No input selected: the mean over the map's first {len(job.images)} examples (click a point on the map to"
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
