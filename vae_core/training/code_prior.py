"""Fitting a VQ-VAE's code prior alone, after training: the encoder frozen, the prior trained on
the codes it chooses for a data set."""

from __future__ import annotations

import torch

from vae_core.data import ImageDataset
from vae_core.models.vqvae import VQVAE
from vae_core.optimizer import make_adam


def fit_code_prior(
    model: VQVAE,
    data: ImageDataset,
    steps: int,
    batch_size: int = 128,
    lr: float = 1e-3,
    seed: int = 0,
) -> float:
    """Train `model`'s code prior alone on the codes of `data`; the last NLL per image."""
    device = next(model.parameters()).device
    generator = torch.Generator(device).manual_seed(seed)
    was_training = model.training
    model.eval()
    with torch.no_grad():
        indices = torch.cat(
            [
                model.code_indices(model.observe(data.batch(chunk)[0].to(device), generator))
                for chunk in torch.arange(len(data), device=data.images.device).split(1000)
            ]
        )
    optimizer = make_adam(model.code_prior.parameters(), lr=lr)
    nll = torch.zeros((), device=device)
    for _ in range(steps):
        batch = indices[
            torch.randint(len(indices), (batch_size,), generator=generator, device=device)
        ]
        nll = -model.code_prior.log_prob(batch).mean()
        optimizer.zero_grad()
        nll.backward()
        optimizer.step()
    model.train(was_training)
    return float(nll.detach())
