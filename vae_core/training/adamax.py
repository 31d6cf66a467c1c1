"""Adamax (Kingma and Ba 2015, section 7.1): Adam with the infinity norm of past gradients in
place of their root mean square, u_t = max(β2 u_{t-1}, |g_t| + eps), and the step
lr / (1 − β1^t) · m_t / u_t. Its state has Adam's layout, u under Adam's second-moment name
("exp_avg_sq", non-negative as that is), so that checkpoints, their checks and `load_adam_state`
serve both."""

from __future__ import annotations

import torch


class Adamax(torch.optim.Optimizer):
    def __init__(self, parameters, lr: float, betas=(0.9, 0.999), eps: float = 1e-8):
        super().__init__(list(parameters), {"lr": float(lr), "betas": tuple(betas), "eps": eps})

    @torch.no_grad()
    def step(self) -> None:
        (group,) = self.param_groups
        beta1, beta2 = group["betas"]
        for parameter in group["params"]:
            if parameter.grad is None:
                continue
            state = self.state[parameter]
            if not state:
                state["step"] = torch.zeros((), dtype=torch.float32)
                state["exp_avg"] = torch.zeros_like(parameter)
                state["exp_avg_sq"] = torch.zeros_like(parameter)
            state["step"] += 1
            gradient, mean, norm = parameter.grad, state["exp_avg"], state["exp_avg_sq"]
            mean.lerp_(gradient, 1 - beta1)
            torch.maximum(norm * beta2, gradient.abs() + group["eps"], out=norm)
            bias_correction = 1 - beta1 ** float(state["step"])
            parameter.addcdiv_(mean, norm, value=-group["lr"] / bias_correction)
