"""The Evaluate page: the model on show scored on the test split, on a worker thread.

What it shows is the seed's bound made visible: the ELBO, the importance-sampled estimate of
log p(x) as it grows with the number of samples K (the ELBO is its K = 1 case in expectation,
log p(x) its limit), and the exact log-likelihood where the model has one; beside them the
figures of the model's family (active units, per-class ELBO, codebook perplexity, MIG).
"""

from __future__ import annotations

import html
import math
import threading
import time

import pyqtgraph as pg
import torch
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFormLayout, QHBoxLayout, QLabel, QPushButton, QSpinBox, QStackedWidget, QVBoxLayout, QWidget

from app.naming import named
from app.session import TRAINING_THREADS
from vae_core.data import ImageDataset
from vae_core.errors import VaeStudioError
from vae_core.evaluation import evaluate_model
from vae_core.models import LatentModel

# Examples per batch: small enough that progress moves about twice a second for an MLP on MNIST.
BATCH_SIZE = 100
_IS_PEN = pg.mkPen("#e69f00", width=2)
_ELBO_PEN = pg.mkPen("#56b4e9", width=2, style=Qt.PenStyle.DashLine)
_EXACT_PEN = pg.mkPen("#009e73", width=2)


class _Cancelled(Exception):
    """Raised from the progress callback to end an evaluation no one waits for any more."""


class EvaluationPage(QWidget):
    evaluateRequested = Signal()  # the window answers with `start`
    evaluated = Signal(dict)  # the results shown, once an evaluation ends

    # From the worker thread, tagged with the request's number.
    _workerProgress = Signal(int, int, int)
    _workerDone = Signal(int, object)
    _workerFailed = Signal(int, str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        named(self, "evaluatePage", "Evaluate")
        self.results: dict | None = None
        self._request = 0
        self._cancel = threading.Event()
        self._started = 0.0
        self._described = ""
        self._no_sampling_reason = ""

        self.examples_spin = named(QSpinBox(), "evaluationExamplesSpinBox", "Test examples to evaluate on")
        self.examples_spin.setRange(100, 100_000)
        self.examples_spin.setSingleStep(100)
        self.examples_spin.setValue(1000)
        self.examples_spin.setToolTip("The first this many test examples (all of them when there are fewer)")
        self.samples_spin = named(QSpinBox(), "evaluationSamplesSpinBox", "Importance samples K")
        self.samples_spin.setRange(1, 10_000)
        self.samples_spin.setValue(100)
        self.samples_spin.setToolTip("Samples z ~ q(z|x) per example for the importance-sampled log-likelihood")
        self.evaluate_button = named(QPushButton("Evaluate"), "evaluateButton", "Evaluate the model on the test set")
        self.evaluate_button.setToolTip("Score the model on show on the test split, on a background thread")
        self.evaluate_button.clicked.connect(self.evaluateRequested)
        self.status = named(QLabel(), "evaluationStatus", "Evaluation status")
        self.status.setWordWrap(True)
        self.figures = named(QLabel(), "evaluationFigures", "Evaluation figures")
        self.figures.setTextFormat(Qt.TextFormat.RichText)
        self.figures.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.figures.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)

        self.plot = named(pg.PlotWidget(), "evaluationPlot", "Log-likelihood estimates against the number of samples")
        item = self.plot.getPlotItem()
        item.setLogMode(x=True)
        item.setLabel("bottom", "importance samples K")
        item.setLabel("left", "nats per example")
        item.setMenuEnabled(False)
        legend = item.addLegend(brush=pg.mkBrush(0, 0, 0, 170))
        # Right, half-way up: between the estimates, which climb to the top right, and the ELBO.
        legend.anchor(itemPos=(1, 0.5), parentPos=(1, 0.5), offset=(-10, 0))
        self.is_curve = item.plot(name="IS estimate of log p(x)", pen=_IS_PEN, symbol="o", symbolSize=6, symbolBrush="#e69f00")
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

        form = QFormLayout()
        form.addRow("Test examples", self.examples_spin)
        form.addRow("Samples K", self.samples_spin)
        column = QVBoxLayout()
        column.addLayout(form)
        column.addWidget(self.evaluate_button)
        column.addWidget(self.status)
        column.addWidget(self.figures, 1)
        side = QWidget()
        side.setLayout(column)
        side.setMaximumWidth(360)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(side)
        layout.addWidget(self.plot_stack, 1)

        self._workerProgress.connect(self._on_progress)
        self._workerDone.connect(self._on_done)
        self._workerFailed.connect(self._on_failed)
        self.clear()

    @property
    def busy(self) -> bool:
        return not self.evaluate_button.isEnabled()

    def start(self, model: LatentModel, data: ImageDataset, described: str) -> None:
        """Evaluate `model`, which becomes the worker's (pass a copy of one in use), on `data`."""
        self.cancel()
        self._cancel = threading.Event()
        self._request += 1
        self._described = described
        samples = self.samples_spin.value() if model.samples_posterior else 1
        self._no_sampling_reason = (
            "VQ-VAE's encoder is deterministic: importance sampling does not apply" if not model.samples_posterior
            else "K = 1: no importance sampling, the ELBO is the estimate"
        )
        limit = self.examples_spin.value()
        self._started = time.perf_counter()
        self.evaluate_button.setEnabled(False)
        self.status.setText(f"Evaluating {described}…")
        worker = threading.Thread(
            target=self._work,
            args=(self._request, self._cancel, model, data, samples, limit),
            name="vae-studio-evaluation",
            daemon=True,
        )
        worker.start()

    def cancel(self) -> None:
        """Stop an evaluation in progress; its results will not be shown."""
        self._cancel.set()
        self.evaluate_button.setEnabled(True)

    def clear(self) -> None:
        """Forget the results (a new model is on show)."""
        self.cancel()
        self._request += 1
        self.results = None
        self._show_plot_message(
            "The estimates of log p(x) against the number of importance samples K appear here: "
            "the ELBO is their K = 1 case, the exact log-likelihood (where the model has one) their limit."
        )
        self.status.setText("Press Evaluate to score the model on show on the test split.")
        self.figures.setText("")

    # The worker thread.
    def _work(self, request: int, cancel: threading.Event, model, data, samples: int, limit: int) -> None:
        torch.set_num_threads(TRAINING_THREADS)

        def progress(done: int, total: int) -> None:
            if cancel.is_set():
                raise _Cancelled
            self._workerProgress.emit(request, done, total)

        try:
            results = evaluate_model(model, data, iw_samples=samples, limit=limit, batch_size=BATCH_SIZE, progress=progress)
        except _Cancelled:
            return
        except VaeStudioError as error:
            self._workerFailed.emit(request, str(error))
            return
        except Exception as error:  # anything unforeseen still ends as a message, not a dead thread
            self._workerFailed.emit(request, f"evaluation failed: {error}")
            return
        if not cancel.is_set():
            self._workerDone.emit(request, results)

    # Back on the GUI thread.
    def _on_progress(self, request: int, done: int, total: int) -> None:
        if request == self._request:
            self.status.setText(f"Evaluating {self._described}: {done:,} of {total:,} examples…")

    def _on_failed(self, request: int, message: str) -> None:
        if request == self._request:
            self.evaluate_button.setEnabled(True)
            self.status.setText(f"Evaluation failed: {message}")

    def _on_done(self, request: int, results: dict) -> None:
        if request != self._request:
            return
        self.evaluate_button.setEnabled(True)
        self.results = results
        seconds = time.perf_counter() - self._started
        self.status.setText(f"Evaluated {self._described} on {results['examples']:,} test examples in {seconds:.1f} s")
        self._plot(results)
        self.figures.setText(figures_table(results))
        self.evaluated.emit(results)

    def _plot(self, results: dict) -> None:
        by_samples = results.get("log_likelihood_is_by_samples")
        if not by_samples:
            self._show_plot_message(self._no_sampling_reason)
            return
        self.plot_stack.setCurrentWidget(self.plot)
        samples = list(by_samples)
        ends = [samples[0], samples[-1]]
        # A tick at each K evaluated (the axis is log10 K): minor log ticks crowd a narrow plot.
        self.plot.getPlotItem().getAxis("bottom").setTicks([[(math.log10(k), f"{k:,}") for k in samples]])
        self.is_curve.setData(samples, list(by_samples.values()))
        self.elbo_line.setData(ends, [results["elbo"]] * 2)
        exact = results.get("exact_log_likelihood")
        self.exact_line.setData(ends if exact is not None else [], [exact] * 2 if exact is not None else [])
        self.plot.setTitle("log p(x) ≥ IS estimate (grows with K) ≥ ELBO, in expectation")
        self.plot.getPlotItem().enableAutoRange()

    def _show_plot_message(self, text: str) -> None:
        for curve in (self.is_curve, self.elbo_line, self.exact_line):
            curve.setData([], [])
        self.plot_message.setText(text)
        self.plot_stack.setCurrentWidget(self.plot_message)


def figures_table(results: dict) -> str:
    """The evaluation's figures as an HTML table: nats per example, and the family's own."""
    quantized = "perplexity" in results
    # (name, value, whether it is a part of the row above)
    rows = [
        ("ELBO, uniform code prior" if quantized else "ELBO", results["elbo"], False),
        ("reconstruction", -results["recon"], True),
        ("−KL", -results["kl"], True),
    ]
    if "log_likelihood_is" in results:
        rows.append((f"IS log p(x), K = {results['iw_samples']:,}", results["log_likelihood_is"], False))
        rows.append(("IS − ELBO", results["log_likelihood_is"] - results["elbo"], True))
    if "exact_log_likelihood" in results:
        rows.append(("exact log p(x)", results["exact_log_likelihood"], False))
    if "code_prior_nll" in results:
        rows.append(("bound with its code prior", -results["recon"] - results["code_prior_nll"], False))
    cells = [
        f"<tr><td style='padding-left:{14 if part else 0}px'>{html.escape(name)}</td><td align='right'>{value:,.2f}</td></tr>"
        for name, value, part in rows
    ]
    cells.append(f"<tr><td>active units</td><td align='right'>{results['active_units']} of {len(results['kl_per_dim'])}</td></tr>")
    if quantized:
        cells.append(
            f"<tr><td>perplexity</td><td align='right'>{results['perplexity']:.1f} of {results['codebook_size']}</td></tr>"
        )
        cells.append(f"<tr><td>codes used</td><td align='right'>{100 * results['codebook_usage']:.0f}%</td></tr>")
    if "mig" in results:
        cells.append(f"<tr><td>MIG</td><td align='right'>{results['mig']:.3f}</td></tr>")
    table = "<table cellspacing='2'>" + "".join(cells) + "</table><p style='color:gray'>nats per example</p>"
    per_class = results.get("elbo_per_class")
    if per_class:
        listed = ", ".join(f"{html.escape(name)} {value:.1f}" for name, value in per_class.items())
        table += f"<p>ELBO per class: {listed}</p>"
    return table
