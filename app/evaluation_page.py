"""The Evaluate page: the model on show scored on the test split. Its controller
(`app.controllers.evaluation`) runs the jobs; the page asks it and draws its state.

What it shows is the seed's bound made visible: the ELBO, the importance-sampled estimate of
log p(x) as it grows with the number of samples K (the ELBO is its K = 1 case in expectation,
log p(x) its limit), and the exact log-likelihood where the model has one; beside them the
figures of the model's family (active units, per-class ELBO, codebook perplexity, MIG).
"""

from __future__ import annotations

import math

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

from app.controllers.evaluation import (
    Analyzed,
    Evaluated,
    EvaluationController,
    EvaluationState,
)
from app.evaluation_tables import analysis_table, figures_table
from app.naming import named
from app.state import ModelOnShow

_IS_PEN = pg.mkPen("#e69f00", width=2)
_ELBO_PEN = pg.mkPen("#56b4e9", width=2, style=Qt.PenStyle.DashLine)
_EXACT_PEN = pg.mkPen("#009e73", width=2)
EXACT_NAME = "exact log p(x)"


class EvaluationPage(QWidget):
    """The test-set figures on the left; on two tabs beside them, the estimates against K and one
    input's gaps."""

    evaluateRequested = Signal()  # the window answers with `evaluate`
    analysisRequested = Signal()  # the window answers with `analyze`
    evaluated = Signal(dict)  # the test-set results shown, once an evaluation ends
    analyzed = Signal(object)  # (AmortizationReport, ImportanceSamplingReport), once shown

    def __init__(self, controller: EvaluationController, parent: QWidget | None = None):
        super().__init__(parent)
        named(self, "evaluatePage", "Evaluate")
        self.controller = controller
        self.results: dict | None = None
        self.analysis: tuple | None = None
        left = self._build_evaluation()
        self._build_plot()
        right = self._build_analysis()
        # Tabs, not side by side: a dock of a 1,400-pixel window has room for one of them beside the
        # figures. Each job shows its own tab when it ends.
        self.result_tabs = named(QTabWidget(), "evaluationTabs", "Evaluation results")
        self.result_tabs.addTab(self.plot_stack, "Test set: log p(x) against K")
        self.result_tabs.addTab(_column(right, minimum_width=300), "Selected input: the gaps")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(_column(left, minimum_width=240))
        layout.addWidget(self.result_tabs, 1)
        self._subscribe(controller.state)

    def _build_evaluation(self) -> QVBoxLayout:
        """The left column: the evaluation's settings, its button, status and figures."""
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
        form = QFormLayout()
        form.addRow("Test examples", self.examples_spin)
        form.addRow("Samples K", self.samples_spin)
        left = QVBoxLayout()
        left.addLayout(form)
        left.addWidget(self.evaluate_button)
        left.addWidget(self.status)
        left.addWidget(self.figures, 1)
        return left

    def _build_plot(self) -> None:
        """The estimates against K, or a message in the plot's place."""
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
        self.legend = item.addLegend(brush=pg.mkBrush(0, 0, 0, 170))
        # Right, half-way up: between the estimates, which climb to the top right, and the ELBO.
        self.legend.anchor(itemPos=(1, 0.5), parentPos=(1, 0.5), offset=(-10, 0))
        self.is_curve = item.plot(
            name="IS estimate of log p(x)",
            pen=_IS_PEN,
            symbol="o",
            symbolSize=6,
            symbolBrush="#e69f00",
        )
        self.elbo_line = item.plot(name="ELBO", pen=_ELBO_PEN)
        # Named in the legend only where it is drawn (`_list_exact`): most models have none.
        self.exact_line = item.plot(pen=_EXACT_PEN)
        # In the plot's place when there is no curve to draw.
        self.plot_message = named(QLabel(), "evaluationPlotMessage", "Why there is no plot")
        self.plot_message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.plot_message.setWordWrap(True)
        self.plot_message.setStyleSheet("color: gray")
        self.plot_stack = QStackedWidget()
        self.plot_stack.addWidget(self.plot)
        self.plot_stack.addWidget(self.plot_message)

    def _build_analysis(self) -> QVBoxLayout:
        """The selected input's tab: its button, status and figures."""
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
        right = QVBoxLayout()
        right.addWidget(self.analyze_button)
        right.addWidget(self.analysis_status)
        right.addWidget(self.analysis_figures, 1)
        return right

    def _subscribe(self, state: EvaluationState) -> None:
        """Draw the controller's state now and whenever a field of it changes."""
        events = state.events
        events.working.connect(self._on_model_working)
        events.evaluation_status.connect(self._on_model_evaluation_status)
        events.analysis_status.connect(self._on_model_analysis_status)
        events.evaluated.connect(self._on_model_evaluated)
        events.analyzed.connect(self._on_model_analyzed)
        self._on_model_working(state.working)
        self.status.setText(state.evaluation_status)
        self.analysis_status.setText(state.analysis_status)
        self._on_model_evaluated(state.evaluated)
        self._on_model_analyzed(state.analyzed)

    @property
    def busy(self) -> bool:
        return not self.evaluate_button.isEnabled()

    def evaluate(self, model: ModelOnShow, described: str) -> None:
        """Evaluate the model on show (with its weights on show) on its test data."""
        self.controller.evaluate(
            model, self.samples_spin.value(), self.examples_spin.value(), described
        )

    def analyze(self, model: ModelOnShow, x: torch.Tensor, y: int | None, described: str) -> None:
        """The gaps of one input x (C, H, W) of class y under the model on show."""
        self.controller.analyze(model, x, y, described)

    def cancel(self) -> None:
        """Stop the job under way; its results will not be shown."""
        self.controller.cancel()

    def clear(self) -> None:
        """Forget the results (a new model is on show)."""
        self.controller.clear()

    # Drawing the controller's state.
    def _on_model_working(self, working: bool) -> None:
        self.evaluate_button.setEnabled(not working)
        self.analyze_button.setEnabled(not working)

    def _on_model_evaluation_status(self, text: str) -> None:
        self.status.setText(text)

    def _on_model_analysis_status(self, text: str) -> None:
        self.analysis_status.setText(text)

    def _on_model_evaluated(self, evaluated: Evaluated | None) -> None:
        if evaluated is None:
            self.results = None
            self.figures.setText("")
            self._show_plot_message(
                "The estimates of log p(x) against the number of importance samples K appear here: "
                "the ELBO is their K = 1 case, the exact log-likelihood (where the model has one) their limit."
            )
            return
        self.results = evaluated.results
        self._plot(evaluated)
        self.result_tabs.setCurrentWidget(self.plot_stack)
        self.figures.setText(figures_table(evaluated.results))
        self.evaluated.emit(evaluated.results)

    def _on_model_analyzed(self, analyzed: Analyzed | None) -> None:
        if analyzed is None:
            self.analysis = None
            self.analysis_figures.setText("")
            return
        self.analysis = analyzed.reports
        self.analysis_figures.setText(analysis_table(*analyzed.reports))
        self.result_tabs.setCurrentIndex(1)
        self.analyzed.emit(analyzed.reports)

    def _plot(self, evaluated: Evaluated) -> None:
        results = evaluated.results
        by_samples = results.get("log_likelihood_is_by_samples")
        if not by_samples:
            self._show_plot_message(evaluated.no_sampling_reason)
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
        self._list_exact(exact is not None)
        self.plot.setTitle("log p(x) ≥ IS estimate (grows with K) ≥ ELBO, in expectation")
        self.plot.getPlotItem().enableAutoRange()

    def _list_exact(self, drawn: bool) -> None:
        listed = any(sample.item is self.exact_line for sample, _ in self.legend.items)
        if drawn and not listed:
            self.legend.addItem(self.exact_line, EXACT_NAME)
        elif listed and not drawn:
            self.legend.removeItem(self.exact_line)

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
