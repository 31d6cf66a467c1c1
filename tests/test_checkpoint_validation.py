"""A malformed checkpoint is refused at load with one line naming the file and the first problem:
each case a tester found, on a real tiny checkpoint with one tensor or metadata field rewritten."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors import safe_open
from safetensors.torch import save_file

from vae_core.checkpoint import (
    load_checkpoint,
    load_model,
    save_checkpoint,
    save_trainer,
)
from vae_core.cli import main
from vae_core.config import RunConfig
from vae_core.errors import VaeStudioError
from vae_core.metrics_columns import METRICS_COLUMNS
from vae_core.training.trainer import Trainer

FIRST_WEIGHT = "model.encoder.net.0.weight"


@pytest.fixture(scope="module")
def valid_checkpoint(tmp_path_factory):
    """A checkpoint saved by the trainer after a few steps of a tiny model: its bytes."""
    from vae_core.config import DataConfig, ModelConfig, TrainConfig
    from vae_core.data import load_data

    config = RunConfig(
        data=DataConfig(dataset="glyphs", size=600),
        model=ModelConfig(hidden=(16,), latent_dim=2),
        train=TrainConfig(batch_size=50, max_steps=3, log_every=3, device="cpu", heldout_every=0),
    )
    trainer = Trainer(config, load_data(config.data))
    list(trainer.run())
    path = tmp_path_factory.mktemp("valid") / "checkpoint.safetensors"
    save_trainer(path, trainer, history=[(1.0,) * len(METRICS_COLUMNS)])
    return path.read_bytes()


def _parts(content: bytes, tmp_path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    source = tmp_path / "source.safetensors"
    source.write_bytes(content)
    with safe_open(str(source), framework="pt") as handle:
        return {name: handle.get_tensor(name) for name in handle.keys()}, handle.metadata()


def _rewritten(valid_checkpoint, tmp_path, edit) -> str:
    """The valid checkpoint with `edit(tensors, metadata)` applied, written as run/checkpoint.safetensors."""
    tensors, metadata = _parts(valid_checkpoint, tmp_path)
    edit(tensors, metadata)
    path = tmp_path / "run" / "checkpoint.safetensors"
    path.parent.mkdir(exist_ok=True)
    save_file(tensors, str(path), metadata=metadata)
    return path


def _set(name, value):
    def edit(tensors, metadata):
        tensors[name] = value

    return edit


def _drop(name):
    return lambda tensors, metadata: tensors.pop(name)


def _change(name, change):
    def edit(tensors, metadata):
        tensors[name] = change(tensors[name])

    return edit


def _change_param_group(**values):
    def edit(tensors, metadata):
        groups = json.loads(metadata["optimizer_param_groups"])
        groups[0].update(values)
        metadata["optimizer_param_groups"] = json.dumps(groups)

    return edit


def _change_config(section, **values):
    def edit(tensors, metadata):
        config = json.loads(metadata["config"])
        config[section].update(values)
        metadata["config"] = json.dumps(config)

    return edit


def _nan_at_first(tensor):
    tensor = tensor.clone()
    tensor.view(-1)[0] = math.nan
    return tensor


CASES = {
    "unknown optimizer tensor": (
        _set("optimizer.state.x.exp_avg", torch.zeros(2)),
        "unknown tensor 'optimizer.state.x.exp_avg'",
    ),
    "unknown counter": (_set("counter.speed", torch.tensor(1)), "unknown tensor 'counter.speed'"),
    "missing step": (_drop("counter.step"), "counter 'step' is missing"),
    "order out of range": (
        _change("counter.order", lambda o: torch.full_like(o, 10**9)),
        "counter 'order' is not an ordering of 0..499",
    ),
    "order as float": (
        _change("counter.order", lambda o: o.float()),
        "counter 'order' must be a 1-D tensor of int64, found float32",
    ),
    "step as float": (
        _set("counter.step", torch.tensor(3.0)),
        "counter 'step' must be a scalar of int64, found float32 of shape ()",
    ),
    "step as a vector": (
        _set("counter.step", torch.tensor([3, 3])),
        "counter 'step' must be a scalar of int64, found int64 of shape (2)",
    ),
    "negative step": (
        _set("counter.step", torch.tensor(-5)),
        "counter 'step' must be a finite number >= 0, found -5",
    ),
    "negative epoch": (
        _set("counter.epoch", torch.tensor(-1)),
        "counter 'epoch' must be a finite number >= 0, found -1",
    ),
    "negative position": (
        _set("counter.position", torch.tensor(-1)),
        "counter 'position' is -1, outside 0..549",
    ),
    "position past the order": (
        _set("counter.position", torch.tensor(10**9)),
        "counter 'position' is 1000000000, outside 0..549",
    ),
    "generator state as int64": (
        _change("counter.generator_state", lambda s: s.long()),
        "counter 'generator_state' must be a 1-D tensor of uint8",
    ),
    "wall time NaN": (
        _set("counter.wall_time_s", torch.tensor(math.nan, dtype=torch.float64)),
        "counter 'wall_time_s' must be a finite number >= 0, found nan",
    ),
    "negative beta": (
        _set("counter.beta_base", torch.tensor(-1.0, dtype=torch.float64)),
        "counter 'beta_base' must be a finite number >= 0",
    ),
    "NaN weight": (
        _change(FIRST_WEIGHT, _nan_at_first),
        f"tensor '{FIRST_WEIGHT}' holds NaN or infinite values",
    ),
    "bool weights": (
        _change(FIRST_WEIGHT, lambda w: w > 0),
        f"tensor '{FIRST_WEIGHT}' is bool, the model in its config expects float32",
    ),
    "int32 weights": (
        _change(FIRST_WEIGHT, lambda w: w.int()),
        f"tensor '{FIRST_WEIGHT}' is int32, the model in its config expects float32",
    ),
    "weights of another shape": (
        _set(FIRST_WEIGHT, torch.zeros(3, 3)),
        f"tensor '{FIRST_WEIGHT}' has shape (3, 3), the model in its config expects (16, 784)",
    ),
    "missing weight": (
        _drop(FIRST_WEIGHT),
        f"tensor '{FIRST_WEIGHT}', a weight of the model in its config, is missing",
    ),
    "extra weight": (
        _set("model.extra.weight", torch.zeros(2)),
        "tensor 'model.extra.weight' is not a weight of the model in its config",
    ),
    "moment of another shape": (
        _set("optimizer.state.0.exp_avg", torch.zeros(2)),
        "parameter 0: 'exp_avg' is float32 of shape (2), the parameter is float32 of shape (16, 784)",
    ),
    "negative second moment": (
        _change("optimizer.state.0.exp_avg_sq", lambda m: m - 1),
        "parameter 0: 'exp_avg_sq' holds values Adam never makes",
    ),
    "negative Adam step": (
        _set("optimizer.state.0.step", torch.tensor(-1.0)),
        "parameter 0 has a step that is not one finite number >= 0",
    ),
    "state of a parameter the model lacks": (
        _set("optimizer.state.99.step", torch.tensor(1.0)),
        "parameter 99 is for a parameter the model in its config does not have",
    ),
    "state without its moments": (
        _drop("optimizer.state.0.exp_avg"),
        "parameter 0 lacks 'exp_avg'",
    ),
    "learning rate NaN": (
        _change_param_group(lr=math.nan),
        "the optimizer settings have a learning rate of nan, not a finite number > 0",
    ),
    "negative learning rate": (
        _change_param_group(lr=-0.5),
        "a learning rate of -0.5, not a finite number > 0",
    ),
    "learning rate as text": (_change_param_group(lr="fast"), "a learning rate of 'fast'"),
    "beta of 1.5": (
        _change_param_group(betas=[0.9, 1.5]),
        "betas of [0.9, 1.5], not two numbers in [0, 1)",
    ),
    "eps of 0": (_change_param_group(eps=0), "an eps of 0, not a finite number > 0"),
    "params of another model": (
        _change_param_group(params=[0, 1]),
        "the optimizer settings are not for the 8 parameters",
    ),
    "state without settings": (
        lambda t, m: m.pop("optimizer_param_groups"),
        "optimizer state but not the optimizer's settings",
    ),
    "negative data size": (
        _change_config("data", size=-5),
        "config key 'data.size' must be at least 1, got -5",
    ),
    "negative input shape": (
        _change_config("model", input_shape=[1, -28, 28]),
        "config key 'model.input_shape' must be at least 1, got -28",
    ),
    "config learning rate 0": (
        _change_config("train", lr=0),
        "config key 'train.lr' must be more than 0, got 0.0",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_malformed_checkpoint_is_refused_with_one_line_naming_the_file(
    case, valid_checkpoint, tmp_path
):
    edit, message = CASES[case]
    path = _rewritten(valid_checkpoint, tmp_path, edit)
    with pytest.raises(VaeStudioError) as raised:
        load_checkpoint(path)
    assert str(raised.value).startswith(f"{path}: ")
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize(
    "case",
    ["NaN weight", "bool weights", "missing step", "order out of range", "learning rate NaN"],
)
def test_the_command_line_says_one_line_and_exits_non_zero(
    case, valid_checkpoint, tmp_path, capsys
):
    edit, message = CASES[case]
    path = _rewritten(valid_checkpoint, tmp_path, edit)
    for command in (
        ["evaluate", str(path.parent), "--device", "cpu"],
        ["train", "--out", str(path.parent), "--resume"],
    ):
        assert main(command) == 1
        captured = capsys.readouterr()
        assert captured.out == ""
        assert captured.err.startswith(f"vae-studio: error: {path}: ") and message in captured.err
        assert captured.err.count("\n") == 1 and "Traceback" not in captured.err


def test_checkpoints_without_history_optimizer_or_counters_still_load(valid_checkpoint, tmp_path):
    tensors, metadata = _parts(valid_checkpoint, tmp_path)
    config = RunConfig.from_json(metadata["config"])
    weights = {
        name.removeprefix("model."): value
        for name, value in tensors.items()
        if name.startswith("model.")
    }
    path = tmp_path / "weights-only.safetensors"
    save_checkpoint(path, config, weights)
    model, checkpoint = load_model(path)
    assert (
        checkpoint.optimizer_state is None
        and checkpoint.history is None
        and checkpoint.counters == {}
    )
    assert torch.equal(model.state_dict()["encoder.net.0.weight"], tensors[FIRST_WEIGHT])


def _npy_images(path, side: int) -> None:
    rng = np.random.default_rng(0)
    np.save(path, rng.integers(0, 256, (60, side, side), dtype=np.uint8))


def test_data_replaced_by_other_shapes_is_named_not_a_traceback(tmp_path, capsys):
    images = tmp_path / "images.npy"
    _npy_images(images, 28)
    run_dir = tmp_path / "run"
    arguments = [
        "--dataset",
        f"npy:{images}",
        "--max-steps",
        "2",
        "--batch-size",
        "10",
        "--hidden",
        "8",
        "--device",
        "cpu",
    ]
    assert main(["train", "--out", str(run_dir), *arguments]) == 0
    _npy_images(images, 32)
    capsys.readouterr()
    commands = (
        ["evaluate", str(run_dir), "--device", "cpu"],
        ["analyze", str(run_dir), "--steps", "1", "--k", "2", "--device", "cpu"],
        ["train", "--out", str(run_dir), "--resume", "--max-steps", "4"],
    )
    for command in commands:
        assert main(command) == 1
        error = capsys.readouterr().err
        assert error == (
            f"vae-studio: error: {run_dir / 'checkpoint.safetensors'}: its data set now holds 1x32x32 examples,"
            " the model was trained on 1x28x28\n"
        )


def test_a_valid_checkpoint_of_other_sizes_loads(valid_checkpoint, tmp_path):
    """The position may run past the order by less than a batch (a short last batch)."""
    path = _rewritten(valid_checkpoint, tmp_path, _set("counter.position", torch.tensor(549)))
    assert int(load_checkpoint(path).counters["position"]) == 549


# Fuzzing: whatever the file holds, loading it gives a checkpoint or VaeStudioError, nothing else.

_FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
_DTYPES = [
    torch.float32,
    torch.float64,
    torch.float16,
    torch.bfloat16,
    torch.int64,
    torch.int32,
    torch.uint8,
    torch.bool,
]
_NAMES = st.one_of(
    st.sampled_from(
        ["model.", "optimizer.state.0.", "optimizer.state.", "counter.", "history."]
    ).flatmap(lambda prefix: st.text(min_size=0, max_size=12).map(lambda rest: prefix + rest)),
    st.sampled_from(
        [
            FIRST_WEIGHT,
            "counter.step",
            "counter.order",
            "counter.position",
            "optimizer.state.0.exp_avg",
            "optimizer.state.0.step",
            "history.metrics",
        ]
    ),
)
_TENSORS = st.builds(
    lambda dtype, shape, fill: torch.full(shape, fill).to(dtype),
    st.sampled_from(_DTYPES),
    st.lists(st.integers(0, 4), max_size=3).map(tuple),
    st.sampled_from([0.0, -1.0, 1e9, math.nan, math.inf]),
)


def _loads_or_refuses(path) -> None:
    try:
        load_checkpoint(path)
    except VaeStudioError as error:
        assert str(path) in str(error) and "\n" not in str(error)


@_FUZZ
@given(name=_NAMES, tensor=_TENSORS)
def test_fuzz_any_tensor_under_any_name(valid_checkpoint, tmp_path, name, tensor):
    _loads_or_refuses(_rewritten(valid_checkpoint, tmp_path, _set(name, tensor)))


@_FUZZ
@given(
    key=st.sampled_from(
        ["format", "format_version", "config", "optimizer_param_groups", "history_columns"]
    ),
    text=st.one_of(
        st.text(max_size=40), st.sampled_from(['[{"lr": 1}]', "[]", "{}", '"x"', "NaN", "-1", "9"])
    ),
)
def test_fuzz_any_metadata_string(valid_checkpoint, tmp_path, key, text):
    def edit(tensors, metadata):
        metadata[key] = text

    _loads_or_refuses(_rewritten(valid_checkpoint, tmp_path, edit))


@_FUZZ
@given(
    length=st.integers(0, 10**6),
    changes=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=4),
)
def test_fuzz_truncated_and_corrupted_bytes(valid_checkpoint, tmp_path, length, changes):
    content = bytearray(valid_checkpoint[: length % (len(valid_checkpoint) + 1)])
    for position, value in changes:
        if content:
            content[position % len(content)] = value
    path = tmp_path / "checkpoint.safetensors"
    path.write_bytes(bytes(content))
    _loads_or_refuses(path)


@_FUZZ
@given(content=st.binary(max_size=200))
def test_fuzz_random_bytes(tmp_path, content):
    path = tmp_path / "checkpoint.safetensors"
    path.write_bytes(content)
    _loads_or_refuses(path)
