"""The Evaluate page: the model on show scored on the test split, on a worker thread.

What it shows is the seed's bound made visible: the ELBO, the importance-sampled estimate of
log p(x) as it grows with the number of samples K (the ELBO is its K = 1 case in expectation,
log p(x) its limit), and the exact log-likelihood where the model has one; beside them the
figures of the model's family (active units, per-class ELBO, codebook perplexity, MIG).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping
from functools import partial

import pyqtgraph as pg
import torch
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.evaluation_tables import (
    ANALYSIS_REPEATS,
    ANALYSIS_SAMPLES,
    analysis_table,
    figures_table,
)
from app.naming import named
from app.state import ModelOnShow
from app.workers import start_job
from vae_core.errors import VaeStudioError
from vae_core.evaluation.analysis import (
    AmortizationReport,
    ImportanceSamplingReport,
    amortization_gap,
    importance_sampling_study,
)
from vae_core.evaluation.estimates import EvaluationStopped, evaluate_model
from vae_core.models import LatentModel, build_model

# Examples per batch: small enough that progress moves about twice a second for an MLP on MNIST.
BATCH_SIZE = 100
_IS_PEN = pg.mkPen("#e69f00", width=2)
_ELBO_PEN = pg.mkPen("#56b4e9", width=2, style=Qt.PenStyle.DashLine)
_EXACT_PEN = pg.mkPen("#009e73", width=2)


class EvaluationPage(QWidget):
    """The test-set figures on the left; on two tabs beside them, the estimates against K and one
    input's gaps. One job runs at a time, on a worker thread, with the page's own copy of the model."""

    evaluateRequested = Signal()  # the window answers with `evaluate`
    analysisRequested = Signal()  # the window answers with `analyze`
    evaluated = Signal(dict)  # the test-set results shown, once an evaluation ends
    analyzed = Signal(object)  # (AmortizationReport, ImportanceSamplingReport), once shown

    # From the worker thread, tagged with the job's number.
    _workerProgress = Signal(int, int, int)
    _workerDone = Signal(int, object)
    _workerFailed = Signal(int, str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        named(self, "evaluatePage", "Evaluate")
        self.results: dict | None = None
        self.analysis: tuple[AmortizationReport, ImportanceSamplingReport] | None = None
        self._job = 0
        self._cancel = threading.Event()
        self._started = 0.0
        self._described = ""
        self._status: QLabel | None = None  # the label of the job under way
        self._job_done = threading.Event()
        self._job_done.set()
        self._show_results: Callable[[object], None] | None = None
        self._no_sampling_reason = ""

        self.examples_spin = named(
            QSpinBox(), "evaluationExamplesSpinBox", "Test examples to evaluate on"
        )
        self.examples_spin.setRange(100, 100_000)
        self.examples_spin.setSingleStep(100)
        self.examples_spin.setValue(1000)
        self.examples_spin.setToolTip(
            "The first this many test examples (all of them when there are fewer)"
        )
        self.samples_spin = named(QSpinBox(), "evaluationSamplesSpinBox", "Importance samples K")
        self.samples_spin.setRange(1, 10_000)
        self.samples_spin.setValue(100)
        self.samples_spin.setToolTip(
            "Samples z ~ q(z|x) per example for the importance-sampled log-likelihood"
        )
        self.evaluate_button = named(
            QPushButton("Evaluate"), "evaluateButton", "Evaluate the model on the test set"
        )
        self.evaluate_button.setToolTip(
            "Score the model on show on the test split, on a background thread (a run in progress shares the cores with it)"
        )
        self.evaluate_button.clicked.connect(self.evaluateRequested)
        self.status = named(QLabel(), "evaluationStatus", "Evaluation status")
        self.status.setWordWrap(True)
        self.figures = _rich_label("evaluationFigures", "Evaluation figures")

        self.plot = named(
            pg.PlotWidget(),
            "evaluationPlot",
            "Log-likelihood estimates against the number of samples",
        )
        item = self.plot.getPlotItem()
        item.setLogMode(x=True)
        item.setLabel("bottom", "importance samples K")
        item.setLabel("left", "nats per example")
        item.setMenuEnabled(False)
        legend = item.addLegend(brush=pg.mkBrush(0, 0, 0, 170))
        # Right, half-way up: between the estimates, which climb to the top right, and the ELBO.
        legend.anchor(itemPos=(1, 0.5), parentPos=(1, 0.5), offset=(-10, 0))
        self.is_curve = item.plot(
            name="IS estimate of log p(x)",
            pen=_IS_PEN,
            symbol="o",
            symbolSize=6,
            symbolBrush="#e69f00",
        )
        self.elbo_line = item.plot(name="ELBO", pen=_ELBO_PEN)
        self.exact_line = item.plot(name="exact log p(x)", pen=_EXACT_PEN)
        # In the plot's place when there is no curve to draw.
        self.plot_message = named(QLabel(), "evaluationPlotMessage", "Why there is no plot")
        self.plot_message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.plot_message.setWordWrap(True)
        self.plot_message.setStyleSheet("color: gray")
        self.plot_stack = QStackedWidget()
        self.plot_stack.addWidget(self.plot)
        self.plot_stack.addWidget(self.plot_message)

        self.analyze_button = named(
            QPushButton("Analyze the selected input"),
            "analyzeButton",
            "Analyze the input selected on the map",
        )
        self.analyze_button.setToolTip(
            "Fit a q(z|x) to this input alone (the amortization gap), and estimate log p(x) by importance "
            "sampling from the prior and from q(z|x)"
        )
        self.analyze_button.clicked.connect(self.analysisRequested)
        self.analysis_status = named(QLabel(), "analysisStatus", "Analysis status")
        self.analysis_status.setWordWrap(True)
        self.analysis_figures = _rich_label("analysisFigures", "Analysis of the selected input")

        form = QFormLayout()
        form.addRow("Test examples", self.examples_spin)
        form.addRow("Samples K", self.samples_spin)
        left = QVBoxLayout()
        left.addLayout(form)
        left.addWidget(self.evaluate_button)
        left.addWidget(self.status)
        left.addWidget(self.figures, 1)
        right = QVBoxLayout()
        right.addWidget(self.analyze_button)
        right.addWidget(self.analysis_status)
        right.addWidget(self.analysis_figures, 1)
        # Tabs, not side by side: a dock of a 1,400-pixel window has room for one of them beside the
        # figures. Each job shows its own tab when it ends.
        self.result_tabs = named(QTabWidget(), "evaluationTabs", "Evaluation results")
        self.result_tabs.addTab(self.plot_stack, "Test set: log p(x) against K")
        self.result_tabs.addTab(_column(right, minimum_width=300), "Selected input: the gaps")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(_column(left, minimum_width=240))
        layout.addWidget(self.result_tabs, 1)

        self._workerProgress.connect(self._on_progress)
        self._workerDone.connect(self._on_done)
        self._workerFailed.connect(self._on_failed)
        self.clear()

    @property
    def busy(self) -> bool:
        return not self.evaluate_button.isEnabled()

    def evaluate(
        self, model: ModelOnShow, weights: Mapping[str, torch.Tensor], described: str
    ) -> None:
        """Evaluate the model of `model`'s config with `weights` (the job builds its own copy) on
        its test data."""
        sampled = model.capabilities.samples_posterior
        samples = self.samples_spin.value() if sampled else 1
        self._no_sampling_reason = (
            "VQ-VAE's encoder is deterministic: importance sampling does not apply"
            if not sampled
            else "K = 1: no importance sampling, the ELBO is the estimate"
        )
        limit, data, config = self.examples_spin.value(), model.test_data, model.config.model

        def job(progress, should_stop):
            return evaluate_model(
                _built(config, weights),
                data,
                iw_samples=samples,
                limit=limit,
                batch_size=BATCH_SIZE,
                progress=progress,
                should_stop=should_stop,
            )

        self._start(job, self.status, self._show_evaluation, described)

    def analyze(
        self, model: ModelOnShow, weights, x: torch.Tensor, y: int | None, described: str
    ) -> None:
        """The gaps of one input x (C, H, W) of class y under the model on show."""
        if not model.capabilities.samples_posterior:
            self.analysis_status.setText(
                "The gaps need a posterior to draw from: VQ-VAE's encoder is deterministic."
            )
            return
        config = model.config.model

        def job(progress, should_stop):  # a second or less: it runs to its end
            built = _built(config, weights)
            gaps = amortization_gap(built, x, y)
            progress(1, 2)
            return gaps, importance_sampling_study(
                built, x, y, sample_counts=ANALYSIS_SAMPLES, repeats=ANALYSIS_REPEATS
            )

        self._start(job, self.analysis_status, self._show_analysis, described)

    def cancel(self) -> None:
        """Stop the job under way; its results will not be shown."""
        self._cancel.set()
        self._job += 1
        self.evaluate_button.setEnabled(True)
        self.analyze_button.setEnabled(True)

    def shutdown(self, timeout_s: float) -> bool:
        """Stop the job under way and wait for it (the window is closing); whether it ended."""
        self.cancel()
        return self._job_done.wait(timeout_s)

    def clear(self) -> None:
        """Forget the results (a new model is on show)."""
        self.cancel()
        self.results = self.analysis = None
        self._show_plot_message(
            "The estimates of log p(x) against the number of importance samples K appear here: "
            "the ELBO is their K = 1 case, the exact log-likelihood (where the model has one) their limit."
        )
        self.status.setText("Press Evaluate to score the model on show on the test split.")
        self.figures.setText("")
        self.analysis_status.setText(
            "Click a point on the map, then analyze it: how far its ELBO is from log p(x), and why."
        )
        self.analysis_figures.setText("")

    def _start(self, job, status: QLabel, show_results, described: str) -> None:
        self.cancel()
        self._cancel = threading.Event()
        self._described, self._status, self._show_results = described, status, show_results
        self._started = time.perf_counter()
        self.evaluate_button.setEnabled(False)
        self.analyze_button.setEnabled(False)
        status.setText(f"Working on {described}…")
        self._job_done = threading.Event()
        start_job(self._work, self._job, self._cancel, self._job_done, job)

    # On the job's thread.
    def _work(self, job_number: int, cancel: threading.Event, done: threading.Event, job) -> None:
        try:
            self._run_job(job_number, cancel, job)
        finally:
            done.set()

    def _run_job(self, job_number: int, cancel: threading.Event, job) -> None:
        def report(signal, *values) -> None:
            # Once cancelled, the page may be on its way out: nothing more goes to it.
            if not cancel.is_set():
                signal.emit(job_number, *values)

        try:
            results = job(partial(report, self._workerProgress), cancel.is_set)
        except EvaluationStopped:
            return
        except VaeStudioError as error:
            report(self._workerFailed, str(error))
            return
        except Exception as error:  # anything unforeseen still ends as a message, not a dead thread
            report(self._workerFailed, f"it failed: {error}")
            return
        report(self._workerDone, results)

    # Back on the GUI thread.
    def _on_progress(self, job_number: int, done: int, total: int) -> None:
        if job_number == self._job:
            self._status.setText(f"Working on {self._described}: {done:,} of {total:,}…")

    def _on_failed(self, job_number: int, message: str) -> None:
        if job_number == self._job:
            self.evaluate_button.setEnabled(True)
            self.analyze_button.setEnabled(True)
            self._status.setText(f"Failed: {message}")

    def _on_done(self, job_number: int, results) -> None:
        if job_number != self._job:
            return
        self.evaluate_button.setEnabled(True)
        self.analyze_button.setEnabled(True)
        self._show_results(results)

    def _seconds(self) -> str:
        return f"{time.perf_counter() - self._started:.1f} s"

    def _show_evaluation(self, results: dict) -> None:
        self.results = results
        self.status.setText(
            f"Evaluated {self._described} on {results['examples']:,} test examples in {self._seconds()}"
        )
        self._plot(results)
        self.result_tabs.setCurrentWidget(self.plot_stack)
        self.figures.setText(figures_table(results))
        self.evaluated.emit(results)

    def _show_analysis(self, reports) -> None:
        self.analysis = reports
        self.analysis_status.setText(f"Analyzed {self._described} in {self._seconds()}")
        self.analysis_figures.setText(analysis_table(*reports))
        self.result_tabs.setCurrentIndex(1)
        self.analyzed.emit(reports)

    def _plot(self, results: dict) -> None:
        by_samples = results.get("log_likelihood_is_by_samples")
        if not by_samples:
            self._show_plot_message(self._no_sampling_reason)
            return
        self.plot_stack.setCurrentWidget(self.plot)
        samples = list(by_samples)
        ends = [samples[0], samples[-1]]
        # A tick at each K evaluated (the axis is log10 K): minor log ticks crowd a narrow plot.
        self.plot.getPlotItem().getAxis("bottom").setTicks(
            [[(math.log10(k), f"{k:,}") for k in samples]]
        )
        self.is_curve.setData(samples, list(by_samples.values()))
        self.elbo_line.setData(ends, [results["elbo"]] * 2)
        exact = results.get("exact_log_likelihood")
        self.exact_line.setData(
            ends if exact is not None else [], [exact] * 2 if exact is not None else []
        )
        self.plot.setTitle("log p(x) ≥ IS estimate (grows with K) ≥ ELBO, in expectation")
        self.plot.getPlotItem().enableAutoRange()

    def _show_plot_message(self, text: str) -> None:
        for curve in (self.is_curve, self.elbo_line, self.exact_line):
            curve.setData([], [])
        self.plot_message.setText(text)
        self.plot_stack.setCurrentWidget(self.plot_message)


def _rich_label(object_name: str, accessible_name: str) -> QLabel:
    label = named(QLabel(), object_name, accessible_name)
    label.setTextFormat(Qt.TextFormat.RichText)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
    label.setWordWrap(True)
    return label


def _column(layout: QVBoxLayout, minimum_width: int) -> QWidget:
    """A column that scrolls when the dock is lower (or narrower) than its content."""
    column = QWidget()
    column.setLayout(layout)
    scroller = QScrollArea()
    scroller.setWidget(column)
    scroller.setWidgetResizable(True)
    scroller.setFrameShape(QFrame.Shape.NoFrame)
    scroller.setMinimumWidth(minimum_width)
    return scroller


def _built(config, weights: Mapping[str, torch.Tensor]) -> LatentModel:
    """A model of its own for a job, built on the job's thread."""
    model = build_model(config)
    model.load_state_dict(weights)
    return model.eval().requires_grad_(False)
