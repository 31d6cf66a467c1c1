"""The kinds of request the views and helpers ask `ModelJobs` to run: which figure of
`vae_core.figures` computes each, on how many torch threads, and how often new weights may redo
it while a run trains (a paced request starts at least `min_interval_s` after the last, and the
kind takes at most `share` of the time: the cores are training's); and the window's file reads
and writes, which need no model."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from app.controllers.model_jobs import JobKind
from vae_core.figures.aggregate import refresh_aggregate
from vae_core.figures.encoding import encode_examples
from vae_core.figures.evaluation import analyze, evaluate
from vae_core.figures.gradients import study_gradients
from vae_core.figures.posterior import compute_identity, compute_layers
from vae_core.latent_embedding import embed_codes

POSTERIOR_LAYERS = JobKind("true posterior layers", compute_layers)
ELBO_IDENTITY = JobKind("ELBO identity", compute_identity)
GRADIENT_STUDY = JobKind(
    "gradient estimators", study_gradients, threads=None, min_interval_s=1.0, share=0.3
)
AGGREGATE_POSTERIOR = JobKind(
    "aggregate posterior", refresh_aggregate, min_interval_s=1.0, share=0.05
)
MAP_ENCODING = JobKind("map encoding", encode_examples, min_interval_s=2.0, share=0.05)
# t-SNE of the map's codes: seconds of one core (6.4 s of CPU for 2,000 codes), so newer codes from
# a training run redo it at most a tenth of the time. It needs the codes only, not the model.
MAP_EMBEDDING = JobKind(
    "t-SNE map", embed_codes, controlled=True, uses_model=False, min_interval_s=5.0, share=0.1
)
EVALUATION = JobKind("evaluation", evaluate, threads=None, controlled=True)
ANALYSIS = JobKind("analysis of one input", analyze, threads=None, controlled=True)


@dataclass(frozen=True)
class Call:
    """A request for a kind with no model: `function(*arguments)`, a module's function (not a
    view's method: workers hold no view)."""

    function: Callable
    arguments: tuple = ()


def call(request: Call):
    return request.function(*request.arguments)


def call_controlled(request: Call, control):
    """`function(*arguments, control)`: it hears whether it was superseded, and reports progress."""
    return request.function(*request.arguments, control)


# Files: each write runs, in turn; a read is superseded by the next read of its line.
FILE_WRITE = JobKind("file written", call, uses_model=False, queued=True)
FILE_READ = JobKind("file read", call, uses_model=False)
DATA_PREVIEW = JobKind(
    "data set preview", call_controlled, uses_model=False, controlled=True, one_at_a_time=False
)
