"""The doubly reparameterised gradient estimator of the IWAE bound (DReG; Tucker, Lawson, Gu and
Maddison, 2018): the encoder's gradient without the score-function term that makes the plain IWAE
gradient's variance grow with K, the decoder's unchanged.

The bound's gradient for the encoder is Σ_k w̃_k (∂ log w_k/∂z ∂z_k/∂φ − β ∂ log q(z_k)/∂φ), with
w̃ the normalised weights. The second term's expectation equals that of
−β Σ_k (w̃_k − w̃_k²) ∂ log w_k/∂z ∂z_k/∂φ (the reparameterisation identity applied to w̃_k), so

    ∇φ = Σ_k ((1 − β) w̃_k + β w̃_k²) ∂ log w_k/∂z ∂z_k/∂φ,

with log q in log w_k evaluated at the encoder's outputs held fixed. A model builds the log weights
that way, passing each sample through `reweighted` where the weights read it (and drawing the next
layer's sample from the sample itself); the surrogate Σ_k w̃_k log w_k then gives the decoder its
IWAE gradient and the encoder DReG's.
"""

from __future__ import annotations

import math

import torch

ESTIMATORS = ("iwae", "dreg")


class _ScaledGradient(torch.autograd.Function):
    """The identity forward; backward, the gradient times its `DregSamples`' scale per sample,
    known by then (broadcast over the last axis)."""

    @staticmethod
    def forward(ctx, z, samples):
        ctx.samples = samples
        return z.view_as(z)

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.samples.scale.unsqueeze(-1).to(grad.dtype), None


class DregSamples:
    """Samples whose gradient, where it reaches their sampling path, is multiplied by
    (1 − β) + β w̃_k: DReG's weights over the surrogate's w̃_k. The scale is set by `surrogate`,
    after the samples made their weights and before the backward pass reads it."""

    def __init__(self):
        self.scale: torch.Tensor | None = None

    def reweighted(self, z: torch.Tensor) -> torch.Tensor:
        return _ScaledGradient.apply(z, self)

    def surrogate(self, log_weights: torch.Tensor, beta: float) -> torch.Tensor:
        """Per example (B,): Σ_k w̃_k log w_k, whose gradient is the estimator's."""
        normalised = torch.softmax(log_weights.detach(), dim=0)
        self.scale = (1 - beta) + beta * normalised
        return (normalised * log_weights).sum(0)


def dreg_loss(log_weights: torch.Tensor, samples: DregSamples, beta: float) -> torch.Tensor:
    """The batch's loss: minus the IWAE bound in value, DReG's estimator in gradient."""
    bound = torch.logsumexp(log_weights.detach(), dim=0) - math.log(len(log_weights))
    surrogate = samples.surrogate(log_weights, beta)
    return -(bound + surrogate - surrogate.detach()).mean()
