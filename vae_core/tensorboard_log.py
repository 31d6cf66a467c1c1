"""TensorBoard event files in `RUN_DIR/tensorboard/` (the `tensorboard` package's writer, through
`torch.utils.tensorboard`): what `train --tensorboard` logs and `evaluate` adds.

At every snapshot: loss, reconstruction, KL, beta, learning rate, images/s and the KL of each
latent dimension; where the snapshot evaluated the held-out ELBO, that ELBO, the active units and
a grid of reconstructions and one of samples; at the end, the hyperparameters with the final
figures, and the test set's codes with their images for the Embedding Projector. Only the first
process of a torchrun team writes (the caller sees to it)."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import torch

from vae_core.config import RunConfig
from vae_core.data import ImageDataset
from vae_core.errors import VaeStudioError
from vae_core.evaluation.estimates import ACTIVE_UNIT_THRESHOLD
from vae_core.metrics_columns import METRICS_COLUMNS
from vae_core.models import LatentModel
from vae_core.training.snapshot import TrainingSnapshot

FOLDER_NAME = "tensorboard"
TENSORBOARD_EXTRA = "pip install 'vae-studio[tensorboard]'"
GRID_COUNT = 32  # images in each grid of reconstructions and samples
PROJECTOR_COUNT = 1000  # test examples whose codes go to the Embedding Projector
_SCALARS = ("loss", "recon", "kl", "beta", "learning_rate", "images_per_s")


def _summary_writer():
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise VaeStudioError(
            f"--tensorboard needs the tensorboard package, which is not installed: {TENSORBOARD_EXTRA}"
        ) from None
    return SummaryWriter


def _code(model: LatentModel, images: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
    """The code the decoder takes for `images`: the posterior mean, or VQ-VAE's z_e."""
    encoded = model.encode(images, labels)
    return encoded if isinstance(encoded, torch.Tensor) else encoded.mean


def _batch(data: ImageDataset, count: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    images, labels = data.batch(torch.arange(min(count, len(data)), device=data.images.device))
    return images.to(device), labels.to(device)


class TensorBoardLog:
    """A run's event files; `examples` are the held-out examples (or the training ones where
    none are held out) whose reconstructions and posterior means are shown."""

    def __init__(
        self, out: Path, model: LatentModel, examples: ImageDataset | None, resumed_at: int = 0
    ):
        writer_class = _summary_writer()
        self.model = model
        self.examples = examples
        # A resumed run redraws the steps after its checkpoint: the dead run's events there go.
        purge = {"purge_step": resumed_at + 1} if resumed_at else {}
        self.writer = writer_class(log_dir=str(Path(out) / FOLDER_NAME), **purge)

    def add_snapshot(self, snapshot: TrainingSnapshot) -> None:
        step = snapshot.step
        for name in _SCALARS:
            self.writer.add_scalar(f"train/{name}", getattr(snapshot, name), step)
        for dimension, kl in enumerate(snapshot.kl_per_dim.tolist()):
            self.writer.add_scalar(f"kl_per_dim/{dimension}", kl, step)
        for name, value in snapshot.extra_terms.items():
            self.writer.add_scalar(f"train/{name}", value, step)
        if snapshot.heldout_elbo is not None or snapshot.finished:
            self._add_model_views(snapshot)
        self.writer.flush()

    @torch.no_grad()
    def _add_model_views(self, snapshot: TrainingSnapshot) -> None:
        model, step = self.model, snapshot.step
        was_training = model.training
        model.eval()
        try:
            device = next(model.parameters()).device
            images, labels = _batch(self.examples, GRID_COUNT, device)
            condition = labels if model.conditional else None
            codes = _code(model, images, condition)
            if snapshot.heldout_elbo is not None:
                self.writer.add_scalar("heldout/elbo", snapshot.heldout_elbo, step)
            if codes.dim() == 2 and len(images) > 1:  # (B, D) posterior means; VQ-VAE's are sets
                units = int((codes.var(0) > ACTIVE_UNIT_THRESHOLD).sum())
                self.writer.add_scalar("heldout/active_units", units, step)
            if self.examples.is_image:
                pairs = torch.stack([images, model.decode_mean(codes, condition)], 1).flatten(0, 1)
                self.writer.add_images("reconstructions", pairs.clamp(0, 1).cpu(), step)
                generator = torch.Generator(device).manual_seed(0)
                samples = model.sample(GRID_COUNT, generator=generator)
                self.writer.add_images("samples", samples.clamp(0, 1).cpu(), step)
        finally:
            model.train(was_training)

    @torch.no_grad()
    def finish(self, config: RunConfig, history: list, test: ImageDataset) -> None:
        """The hyperparameters with the run's final figures, and the projector's test codes."""
        model = self.model
        was_training = model.training
        model.eval()
        try:
            device = next(model.parameters()).device
            images, labels = _batch(test, PROJECTOR_COUNT, device)
            codes = model.embed(images, labels if model.conditional else None)
            self.writer.add_embedding(
                codes.cpu(),
                metadata=labels.cpu().tolist(),
                label_img=images.cpu() if test.is_image else None,
                global_step=int(history[-1][0]) if history else 0,
                tag="test_codes",
            )
        finally:
            model.train(was_training)
        self.writer.add_hparams(_hyperparameters(config), _final_figures(history), run_name=".")
        self.writer.close()

    def close(self) -> None:
        self.writer.close()


def _hyperparameters(config: RunConfig) -> dict:
    """The config's settings as TensorBoard's hparams take them (numbers, strings, booleans)."""
    settings = {}
    for section in ("data", "model", "train"):
        for key, value in dataclasses.asdict(getattr(config, section)).items():
            if value is None:
                continue
            settings[f"{section}.{key}"] = (
                value if isinstance(value, int | float | str | bool) else str(value)
            )
    return settings


def _final_figures(history: list) -> dict[str, float]:
    if not history:
        return {}
    last = dict(zip(METRICS_COLUMNS, history[-1]))
    figures = {f"final/{name}": last[name] for name in ("loss", "recon", "kl")}
    heldout = [row[METRICS_COLUMNS.index("heldout_elbo")] for row in history]
    measured = [value for value in heldout if not math.isnan(value)]
    if measured:
        figures["final/heldout_elbo"] = measured[-1]
    return figures


def add_evaluation(run_dir: Path, results: dict, step: int) -> bool:
    """`evaluate`'s figures added to a run that logs to TensorBoard (a run folder holding
    `tensorboard/`); whether they were."""
    folder = Path(run_dir) / FOLDER_NAME
    if not folder.is_dir():
        return False
    writer = _summary_writer()(log_dir=str(folder))
    split = results.get("split", "test")
    for name, value in results.items():
        if isinstance(value, int | float) and not isinstance(value, bool) and name != "seconds":
            writer.add_scalar(f"evaluate/{split}/{name}", value, step)
    for dimension, kl in enumerate(results.get("kl_per_dim", [])):
        writer.add_scalar(f"evaluate/{split}/kl_per_dim/{dimension}", kl, step)
    writer.close()
    return True


def write_finished_run(
    out: Path, config: RunConfig, rows, model: LatentModel, test: ImageDataset | None
) -> None:
    """The events of a run trained apart from a headless command (the window's), written once it
    ends: its metric rows as the scalars, the hyperparameters with its final figures, and the
    test set's codes for the Embedding Projector (its images need the model at each held-out
    step, which only a headless run has)."""
    log = TensorBoardLog(out, model, test)  # its examples serve only the images, not drawn here
    heldout = METRICS_COLUMNS.index("heldout_elbo")
    for row in rows:
        values = dict(zip(METRICS_COLUMNS, map(float, row)))
        step = int(values["step"])
        for name in _SCALARS:
            if not math.isnan(values[name]):
                log.writer.add_scalar(f"train/{name}", values[name], step)
        if not math.isnan(row[heldout]):
            log.writer.add_scalar("heldout/elbo", float(row[heldout]), step)
    if test is None:
        log.writer.add_hparams(_hyperparameters(config), _final_figures(rows), run_name=".")
        log.close()
    else:
        log.finish(config, [tuple(row) for row in rows], test)
