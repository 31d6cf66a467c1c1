"""The Evaluate page's controller and state: one job at a time (the test set scored, or one
input's gaps), asked of `ModelJobs` with the weights on show; the page draws the state."""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import partial

import torch
from psygnal import evented
from PySide6.QtCore import QObject

from app.controllers.job_kinds import ANALYSIS, EVALUATION
from app.controllers.model_jobs import Answer, ModelJobs
from app.state import ModelOnShow, ShownModel
from vae_core.errors import VaeStudioError
from vae_core.evaluation.estimates import EvaluationStopped
from vae_core.figures.evaluation import AnalysisRequest, EvaluationRequest

EVALUATION_PROMPT = "Press Evaluate to score the model on show on the test split."
ANALYSIS_PROMPT = (
    "Click a point on the map, then analyze it: how far its ELBO is from log p(x), and why."
)


@dataclass(frozen=True, eq=False)
class Evaluated:
    """A finished evaluation: `evaluate_model`'s results, and why it has no curve where it has none."""

    results: dict
    described: str
    seconds: float
    no_sampling_reason: str


@dataclass(frozen=True, eq=False)
class Analyzed:
    reports: tuple  # (AmortizationReport, ImportanceSamplingReport)
    described: str
    seconds: float


@evented
@dataclass
class EvaluationState:
    """What the Evaluate page shows; each field announces its changes (`state.events.<field>`)."""

    working: bool = False  # a job is under way
    evaluation_status: str = EVALUATION_PROMPT
    analysis_status: str = ANALYSIS_PROMPT
    evaluated: Evaluated | None = None
    analyzed: Analyzed | None = None


class EvaluationController(QObject):
    """Starts, reports and cancels the Evaluate page's jobs (GUI thread)."""

    def __init__(self, shown: ShownModel, jobs: ModelJobs, parent: QObject | None = None):
        super().__init__(parent)
        self.shown = shown
        self.state = EvaluationState()
        self._lines = {
            "evaluation_status": jobs.line(
                EVALUATION,
                self,
                self._evaluated,
                partial(self._failed, "evaluation_status"),
                partial(self._progressed, "evaluation_status"),
            ),
            "analysis_status": jobs.line(
                ANALYSIS,
                self,
                self._analyzed,
                partial(self._failed, "analysis_status"),
                partial(self._progressed, "analysis_status"),
            ),
        }
        self._described = ""
        self._started = 0.0
        self._no_sampling_reason = ""

    def evaluate(self, model: ModelOnShow, samples: int, limit: int, described: str) -> None:
        """Score the model on show on the first `limit` test examples, log p(x) with K = `samples`."""
        sampled = model.capabilities.samples_posterior
        self._no_sampling_reason = (
            "VQ-VAE's encoder is deterministic: importance sampling does not apply"
            if not sampled
            else "K = 1: no importance sampling, the ELBO is the estimate"
        )
        request = EvaluationRequest(model.test_data, samples if sampled else 1, limit)
        self._start("evaluation_status", request, described)

    def analyze(self, model: ModelOnShow, x: torch.Tensor, y: int | None, described: str) -> None:
        """The gaps of one input x (C, H, W) of class y under the model on show."""
        if not model.capabilities.samples_posterior:
            self.state.analysis_status = (
                "The gaps need a posterior to draw from: VQ-VAE's encoder is deterministic."
            )
            return
        self._start("analysis_status", AnalysisRequest(x, y), described)

    def cancel(self) -> None:
        """Stop the job under way; its results will not be shown."""
        for line in self._lines.values():
            line.cancel()
        self.state.working = False

    def clear(self) -> None:
        """Forget the results (a new model is on show)."""
        self.cancel()
        state = self.state
        state.evaluated = state.analyzed = None
        state.evaluation_status, state.analysis_status = EVALUATION_PROMPT, ANALYSIS_PROMPT

    def _start(self, status: str, request, described: str) -> None:
        self.cancel()
        self._described, self._started = described, time.perf_counter()
        self.state.working = True
        setattr(self.state, status, f"Working on {described}…")
        self._lines[status].ask(request)

    def _seconds(self) -> float:
        return time.perf_counter() - self._started

    def _progressed(self, status: str, done: int, total: int) -> None:
        setattr(self.state, status, f"Working on {self._described}: {done:,} of {total:,}…")

    def _failed(self, status: str, error: Exception) -> None:
        if isinstance(error, EvaluationStopped):
            return
        self.state.working = False
        message = str(error) if isinstance(error, VaeStudioError) else f"it failed: {error}"
        setattr(self.state, status, f"Failed: {message}")

    def _evaluated(self, answer: Answer) -> None:
        results, seconds = answer.value, self._seconds()
        self.state.working = False
        self.state.evaluation_status = f"Evaluated {self._described} on {results['examples']:,} test examples in {seconds:.1f} s"
        self.state.evaluated = Evaluated(
            results, self._described, seconds, self._no_sampling_reason
        )

    def _analyzed(self, answer: Answer) -> None:
        self.state.working = False
        self.state.analysis_status = f"Analyzed {self._described} in {self._seconds():.1f} s"
        self.state.analyzed = Analyzed(answer.value, self._described, self._seconds())
