"""The kinds of request the views ask `ModelJobs` to run: which figure of `vae_core.figures`
computes each, on how many torch threads, and how often new weights may redo it while a run
trains (a paced request starts at least `min_interval_s` after the last, and the kind takes at
most `share` of the time: the cores are training's)."""

from __future__ import annotations

from app.controllers.model_jobs import JobKind
from vae_core.figures.aggregate import refresh_aggregate
from vae_core.figures.encoding import encode_examples
from vae_core.figures.evaluation import analyze, evaluate
from vae_core.figures.gradients import study_gradients
from vae_core.figures.posterior import compute_identity, compute_layers

POSTERIOR_LAYERS = JobKind("true posterior layers", compute_layers)
ELBO_IDENTITY = JobKind("ELBO identity", compute_identity)
GRADIENT_STUDY = JobKind(
    "gradient estimators", study_gradients, threads=None, min_interval_s=1.0, share=0.3
)
AGGREGATE_POSTERIOR = JobKind(
    "aggregate posterior", refresh_aggregate, min_interval_s=1.0, share=0.05
)
MAP_ENCODING = JobKind("map encoding", encode_examples, min_interval_s=2.0, share=0.05)
EVALUATION = JobKind("evaluation", evaluate, threads=None, controlled=True)
ANALYSIS = JobKind("analysis of one input", analyze, threads=None, controlled=True)
