"""Model edits between training steps (no Qt): the VQ codebook re-seed that the window's Codebook
page asks for, made while the trainer's generator is suspended at a snapshot (where the run's job
serves edits: tests/test_app_run_job.py)."""

from __future__ import annotations

import pytest
import torch

from vae_core.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from vae_core.errors import VaeStudioError
from vae_core.models.quantizer import VectorQuantizer
from vae_core.training.trainer import Trainer


def tiny_trainer(small_glyphs, family: str = "vae", max_steps: int = 30) -> Trainer:
    config = RunConfig(
        data=DataConfig(dataset="glyphs", size=600),
        model=ModelConfig(
            family=family, hidden=(16,), latent_dim=2, codebook_size=8, code_positions=2
        ),
        train=TrainConfig(batch_size=50, max_steps=max_steps, log_every=10, seed=0, device="cpu"),
    )
    return Trainer(config, small_glyphs)


def test_reseed_moves_the_codes_and_their_averages():
    quantizer = VectorQuantizer(codebook_size=4, code_dim=2, ema_decay=0.9, reset_dead_codes=False)
    before = quantizer.codebook.clone()
    encoded = torch.tensor([[[5.0, 5.0]], [[5.0, 5.0]]])  # (B=2, N=1, D=2): one vector twice
    quantizer.reseed([1, 3], encoded)
    assert torch.equal(quantizer.codebook[1], torch.tensor([5.0, 5.0]))
    assert torch.equal(quantizer.codebook[3], torch.tensor([5.0, 5.0]))
    assert torch.equal(quantizer.codebook[[0, 2]], before[[0, 2]])
    # EMA state follows, so the next average update does not pull the codes back at once.
    assert torch.equal(quantizer.vector_sum[1], torch.tensor([5.0, 5.0]))
    assert quantizer.cluster_size[1] == 1.0
    assert quantizer.usage[3] == pytest.approx(1 / 4)


def test_reseed_draws_replacements_among_the_given_encoder_outputs():
    quantizer = VectorQuantizer(codebook_size=6, code_dim=2, ema_decay=None, reset_dead_codes=False)
    outputs = torch.tensor([[1.0, 2.0], [3.0, 4.0], [-1.0, 0.5]])
    quantizer.reseed(torch.tensor([0, 2, 4, 5]), outputs, torch.Generator().manual_seed(0))
    for code in (0, 2, 4, 5):
        assert any(torch.equal(quantizer.codebook[code].detach(), row) for row in outputs)


def test_reseed_rejects_codes_outside_the_codebook():
    quantizer = VectorQuantizer(codebook_size=4, code_dim=2, ema_decay=None, reset_dead_codes=False)
    with pytest.raises(VaeStudioError, match="0..3"):
        quantizer.reseed([4], torch.zeros(3, 2))


def test_a_reseed_between_steps_reaches_the_training_model(small_glyphs):
    trainer = tiny_trainer(small_glyphs, family="vqvae", max_steps=11)
    quantizer = trainer.model.quantizer
    run = trainer.run()
    next(run)  # suspended at step 10's snapshot
    marker = torch.full((1, 1, quantizer.codebook.shape[1]), 7.0)
    quantizer.reseed([2], marker)
    list(run)  # one more step; its update may move code 2 only by a gradient or an average step
    assert torch.allclose(quantizer.codebook[2].detach(), marker[0, 0], atol=0.5)
