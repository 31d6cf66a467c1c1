import copy
import subprocess
import sys

import pytest
import torch

from vae_core import optimizer as optimizer_module
from vae_core.checkpoint import load_checkpoint, save_checkpoint
from vae_core.config import ModelConfig, RunConfig
from vae_core.errors import VaeStudioError
from vae_core.models import build_model
from vae_core.optimizer import KernelAdam, load_adam_state, make_adam

IMPLEMENTATIONS = ["kernel", "fused", "fallback"]


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3))


def _train(model, optimizer, steps: int, seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        inputs = torch.randn(32, 6, generator=generator)
        loss = (model(inputs) - inputs[:, :3].sin()).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def _train_parameters(model, optimizer, steps: int, seed: int) -> None:
    """Steps on a loss of the parameters alone: any model, whatever its inputs."""
    generator = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        loss = sum(
            (p * torch.randn(p.shape, generator=generator)).sin().sum() for p in model.parameters()
        )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def _without_kernel_adam(monkeypatch) -> None:
    """As with a torch that has no fused Adam op to call directly."""
    monkeypatch.setattr(optimizer_module, "_kernel_adam_runs", lambda device, dtype: False)


def _without_fused_adam(monkeypatch) -> None:
    """As on a device or a torch for which Adam has no fused kernel at all."""
    _without_kernel_adam(monkeypatch)
    monkeypatch.setattr(optimizer_module, "_fused_adam_runs", lambda device, dtype: False)


def _use(implementation: str, monkeypatch) -> None:
    if implementation == "fused":
        _without_kernel_adam(monkeypatch)
    elif implementation == "fallback":
        _without_fused_adam(monkeypatch)


def test_adam_calls_the_kernel_where_it_runs_else_torch_optim_fused_else_its_default(monkeypatch):
    cpu = torch.device("cpu")
    assert optimizer_module._kernel_adam_runs(cpu, torch.float32)
    assert not optimizer_module._kernel_adam_runs(cpu, torch.int32)  # no gradients, no updates
    monkeypatch.delattr(torch, "_fused_adam_")  # a torch without the private op
    assert not optimizer_module._kernel_adam_runs.__wrapped__(cpu, torch.float32)
    monkeypatch.undo()
    assert optimizer_module._fused_adam_runs(torch.device("cpu"), torch.float32)
    assert not optimizer_module._fused_adam_runs(torch.device("meta"), torch.float32)
    assert isinstance(make_adam(_model().parameters(), lr=1e-3), KernelAdam)
    _without_kernel_adam(monkeypatch)
    fused = make_adam(_model().parameters(), lr=1e-3)
    assert isinstance(fused, torch.optim.Adam) and fused.param_groups[0]["fused"] is True
    _without_fused_adam(monkeypatch)
    assert not make_adam(_model().parameters(), lr=1e-3).param_groups[0]["fused"]


def test_the_kernel_adam_updates_as_torch_optim_fused_adam_bit_for_bit():
    kernel_model, fused_model = _model(), _model()
    kernel = make_adam(kernel_model.parameters(), lr=1e-2)
    fused = torch.optim.Adam(fused_model.parameters(), lr=1e-2, fused=True)
    _train(kernel_model, kernel, 40, seed=1)
    _train(fused_model, fused, 40, seed=1)
    for expected, parameter in zip(fused_model.parameters(), kernel_model.parameters()):
        assert torch.equal(parameter, expected)
    saved, expected_state = kernel.state_dict(), fused.state_dict()
    assert saved["param_groups"][0] == expected_state["param_groups"][0]
    for index, state in expected_state["state"].items():
        assert all(torch.equal(saved["state"][index][name], value) for name, value in state.items())


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_a_learning_rate_set_between_steps_moves_the_next_step(implementation, monkeypatch):
    _use(implementation, monkeypatch)
    used, unused = torch.ones(3, requires_grad=True), torch.ones(3, requires_grad=True)
    optimizer = make_adam([used, unused], lr=0.1)
    # Under a constant gradient Adam's every step moves each coordinate by lr against its sign.
    for lr in (0.1, 0.01):
        optimizer.param_groups[0]["lr"] = lr
        optimizer.zero_grad()
        (used * torch.tensor([1.0, -2.0, 0.0])).sum().backward()
        optimizer.step()
    assert torch.allclose(used.detach(), torch.tensor([0.89, 1.11, 1.0]), atol=1e-6)
    assert torch.equal(unused.detach(), torch.ones(3))  # no gradient, no update


def test_the_fallback_trains_as_the_fused_adam_up_to_rounding(monkeypatch):
    _without_fused_adam(monkeypatch)
    fused_model, fallback_model = _model(), _model()
    fused = torch.optim.Adam(fused_model.parameters(), lr=1e-2, fused=True)
    _train(fused_model, fused, 40, seed=1)
    _train(fallback_model, make_adam(fallback_model.parameters(), lr=1e-2), 40, seed=1)
    for expected, parameter in zip(fused_model.parameters(), fallback_model.parameters()):
        torch.testing.assert_close(parameter, expected)


def _former_layout(optimizer, lr: float) -> dict:
    """The state dict of the hand-written Adam this project had before: torch.optim's fused layout,
    written out field by field, betas a tuple, the step a float32 scalar."""
    state = optimizer.state_dict()["state"]
    return {
        "state": {
            index: {name: state[index][name].clone() for name in ("step", "exp_avg", "exp_avg_sq")}
            for index in state
        },
        "param_groups": [
            {
                "lr": lr,
                "betas": (0.9, 0.999),
                "eps": 1e-8,
                "weight_decay": 0.0,
                "amsgrad": False,
                "maximize": False,
                "foreach": None,
                "capturable": False,
                "differentiable": False,
                "fused": True,
                "decoupled_weight_decay": False,
                "params": list(range(len(optimizer.param_groups[0]["params"]))),
            }
        ],
    }


@pytest.mark.parametrize("implementation", ["kernel", "fused"])
def test_a_checkpoint_of_the_former_adam_resumes_bit_for_bit(implementation, tmp_path, monkeypatch):
    """Its learning rate comes back (the resumed optimizer starts with another), and the
    checkpoint's own tensors are left as they were."""
    _use(implementation, monkeypatch)
    # A checkpoint holds the weights of the model its config builds, and is checked for it.
    config = RunConfig(model=ModelConfig(hidden=(16,), latent_dim=2, input_shape=(1, 6, 1)))
    model = build_model(config.model)
    optimizer = make_adam(model.parameters(), lr=1e-2)
    _train_parameters(model, optimizer, 15, seed=2)
    path = tmp_path / "former.safetensors"
    save_checkpoint(path, config, model.state_dict(), _former_layout(optimizer, lr=1e-2))
    checkpoint = load_checkpoint(path)
    saved_moment = checkpoint.optimizer_state["state"][0]["exp_avg"].clone()
    resumed_model = build_model(config.model)
    resumed_model.load_state_dict(checkpoint.model_state)
    resumed = make_adam(resumed_model.parameters(), lr=1.0)
    load_adam_state(resumed, checkpoint.optimizer_state)
    assert resumed.param_groups[0]["lr"] == 1e-2
    _train_parameters(model, optimizer, 15, seed=3)
    _train_parameters(resumed_model, resumed, 15, seed=3)
    for expected, parameter in zip(model.parameters(), resumed_model.parameters()):
        assert torch.equal(expected, parameter)
    assert torch.equal(checkpoint.optimizer_state["state"][0]["exp_avg"], saved_moment)


def test_a_kernel_state_resumes_on_the_fallback_which_stays_itself(monkeypatch):
    model = _model()
    optimizer = make_adam(model.parameters(), lr=1e-2)
    _train(model, optimizer, 15, seed=2)
    _without_fused_adam(monkeypatch)
    resumed_model = copy.deepcopy(model)
    resumed = make_adam(resumed_model.parameters(), lr=1e-2)
    load_adam_state(resumed, optimizer.state_dict())
    assert not resumed.param_groups[0]["fused"]
    _train(model, optimizer, 15, seed=3)
    _train(resumed_model, resumed, 15, seed=3)
    for expected, parameter in zip(model.parameters(), resumed_model.parameters()):
        torch.testing.assert_close(parameter, expected)


def test_state_of_another_model_or_malformed_is_refused_with_a_value_error():
    """ValueError, as torch.optim raises: the resume paths add the checkpoint's name to it."""
    model = _model()
    optimizer = make_adam(model.parameters(), lr=1e-3)
    _train(model, optimizer, 1, seed=0)
    saved = optimizer.state_dict()
    wider = torch.nn.Sequential(torch.nn.Linear(6, 17), torch.nn.Tanh(), torch.nn.Linear(17, 3))
    with pytest.raises(ValueError, match="parameter 0 does not fit"):
        load_adam_state(make_adam(wider.parameters(), lr=1e-3), saved)
    with pytest.raises(ValueError, match="is for 4 parameters, this model has 2"):
        load_adam_state(make_adam(list(model.parameters())[:2], lr=1e-3), saved)
    for groups in (
        [],
        [{}],
        None,
        [{"params": [0, 1, 2, 3], "lr": "fast", "betas": (0.9, 0.99), "eps": 1e-8}],
    ):
        with pytest.raises(ValueError, match="not those of a one-group Adam"):
            load_adam_state(
                make_adam(model.parameters(), lr=1e-3), {"state": {}, "param_groups": groups}
            )
    for field, value in (("step", torch.ones(2)), ("exp_avg", [0.0])):
        bad = copy.deepcopy(saved)
        bad["state"][0][field] = value
        with pytest.raises(ValueError, match="parameter 0 does not fit"):
            load_adam_state(make_adam(model.parameters(), lr=1e-3), bad)


@pytest.mark.parametrize("lr", [0.0, -1e-3, float("nan"), float("inf")])
def test_a_learning_rate_that_is_not_a_positive_number_is_refused(lr):
    with pytest.raises(VaeStudioError, match="learning rate must be a positive number"):
        make_adam(_model().parameters(), lr=lr)


def _imports_after(code: str) -> bool:
    """Whether torch._dynamo is imported once `code` ran, in a fresh interpreter."""
    program = f"import sys\nimport torch\n{code}\nprint('torch._dynamo' in sys.modules)\n"
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1] == "True"


def test_training_steps_with_the_kernel_never_import_torch_dynamo():
    """torch.optim imports torch._dynamo at its first step, 1.7 s of the window's cold start: the
    kernel path exists to skip it."""
    assert not _imports_after(
        "from vae_core.optimizer import make_adam\n"
        "parameter = torch.ones(3, requires_grad=True)\n"
        "optimizer = make_adam([parameter], lr=0.1)\n"
        "parameter.sum().backward()\n"
        "optimizer.step()\n"
    )


def test_the_warm_up_imports_what_torch_optim_needs_only_where_torch_optim_runs():
    warm_up = "from vae_core.optimizer import warm_up_optimizer\nwarm_up_optimizer()\n"
    assert not _imports_after(warm_up)
    forced = "import vae_core.optimizer as o\no._kernel_adam_runs = lambda device, dtype: False\n"
    assert _imports_after(forced + "o.warm_up_optimizer()\n")
