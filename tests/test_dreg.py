"""DReG (Tucker et al. 2018) against the IWAE gradient on the linear Gaussian model: the same
expectation, less variance for the encoder, the decoder's gradient unchanged draw by draw."""

from __future__ import annotations

import pytest
import torch

from vae_core.config import ModelConfig
from vae_core.errors import VaeStudioError
from vae_core.models import build_model

SHAPE = (6, 1, 1)


def _model(family: str, estimator: str, samples: int = 8):
    config = ModelConfig(
        family=family,
        arch="linear" if family == "vae" else "mlp",
        likelihood="gaussian",
        latent_dim=2,
        input_shape=SHAPE,
        hidden=(8,),
        lower_latent_dim=3,
        upper_hidden=(8,),
        activation="tanh",
        iw_samples=samples,
        gradient_estimator=estimator,
    )
    torch.manual_seed(4)  # the same weights for both estimators
    model = build_model(config).double()
    with torch.no_grad():
        model.likelihood.log_var.fill_(-1.0)
    return model


def _gradients(model, x, beta: float, draws: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(draws, encoder parameters) and (draws, decoder parameters): one gradient per seed."""
    encoder = [p for name, p in model.named_parameters() if "encoder" in name]
    decoder = [p for name, p in model.named_parameters() if "decoder" in name]
    rows_encoder, rows_decoder = [], []
    for seed in range(draws):
        model.zero_grad()
        model.loss(x, beta=beta, generator=torch.Generator().manual_seed(seed))["loss"].backward()
        rows_encoder.append(torch.cat([p.grad.flatten() for p in encoder]))
        rows_decoder.append(torch.cat([p.grad.flatten() for p in decoder]))
    return torch.stack(rows_encoder), torch.stack(rows_decoder)


@pytest.mark.parametrize(
    ("family", "beta", "draws"), [("vae", 1.0, 400), ("vae", 0.5, 400), ("hvae", 1.0, 120)]
)
def test_dreg_has_the_iwae_gradients_expectation_with_less_variance(family, beta, draws):
    x = torch.randn(3, *SHAPE, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    iwae_encoder, iwae_decoder = _gradients(_model(family, "iwae"), x, beta, draws)
    dreg_encoder, dreg_decoder = _gradients(_model(family, "dreg"), x, beta, draws)
    # Draw by draw the decoder's gradient is the IWAE one: only the encoder's changes.
    assert torch.allclose(iwae_decoder, dreg_decoder, atol=1e-10)
    # Unbiased: the means agree within 4 standard errors of their difference, every coordinate
    # (some of them far from 0 in units of that error: the test has power).
    difference = iwae_encoder.mean(0) - dreg_encoder.mean(0)
    error = ((iwae_encoder.var(0) + dreg_encoder.var(0)) / draws).sqrt()
    assert (difference.abs() < 4 * error).all()
    assert (iwae_encoder.mean(0).abs() > 4 * error).sum() >= 3
    assert dreg_encoder.var(0).sum() < 0.7 * iwae_encoder.var(0).sum()


def test_an_unknown_estimator_is_one_line():
    with pytest.raises(VaeStudioError, match="unknown gradient estimator 'reinforce'"):
        _model("vae", "reinforce")
