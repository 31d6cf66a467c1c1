"""--precision bf16 (autocast, float32 weights) and --device mps where torch offers it."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from vae_core.cli import main
from vae_core.device import device_available, resolve_device
from vae_core.errors import VaeStudioError
from vae_core.training.trainer import Trainer


def _with_train(config, **changes):
    return dataclasses.replace(config, train=dataclasses.replace(config.train, **changes))


def _first_linear_output_dtypes(trainer: Trainer) -> list[torch.dtype]:
    seen = []
    first = next(
        module for module in trainer.model.modules() if isinstance(module, torch.nn.Linear)
    )
    first.register_forward_hook(lambda _module, _inputs, output: seen.append(output.dtype))
    return seen


def test_bf16_computes_the_forward_pass_in_bfloat16_and_keeps_float32_weights(
    small_config, small_glyphs
):
    trainer = Trainer(_with_train(small_config, precision="bf16", max_steps=60), small_glyphs)
    dtypes = _first_linear_output_dtypes(trainer)
    snapshots = list(trainer.run())
    assert set(dtypes) == {torch.bfloat16}
    assert all(
        value.dtype == torch.float32
        for value in trainer.model.state_dict().values()
        if value.is_floating_point()
    )
    assert snapshots[-1].loss < snapshots[0].loss
    # The same start in float32: bfloat16 keeps 8 bits of mantissa, so the first interval's
    # loss agrees to about 1% (summed over 784 pixels the rounding errors mostly cancel).
    reference = Trainer(_with_train(small_config, max_steps=10), small_glyphs)
    assert next(reference.run()).loss == pytest.approx(snapshots[0].loss, rel=0.01)


def test_fp32_is_the_default_and_computes_in_float32(small_config, small_glyphs):
    trainer = Trainer(_with_train(small_config, max_steps=2, log_every=1), small_glyphs)
    dtypes = _first_linear_output_dtypes(trainer)
    list(trainer.run())
    assert trainer.config.train.precision == "fp32" and set(dtypes) == {torch.float32}


def test_an_unknown_precision_is_one_clear_line(small_config, small_glyphs):
    with pytest.raises(
        VaeStudioError, match="unknown precision 'fp8' \\(choose from fp32, bf16\\)"
    ):
        Trainer(_with_train(small_config, precision="fp8"), small_glyphs)


def test_mps_is_accepted_where_torch_has_it_and_refused_in_one_line_elsewhere(
    monkeypatch, tmp_path, capsys
):
    if not device_available("mps"):
        with pytest.raises(VaeStudioError, match="device 'mps' was asked for but this machine"):
            resolve_device("mps")
        assert (
            main(["train", "--out", str(tmp_path / "run"), "--device", "mps", "--max-steps", "1"])
            == 1
        )
        (line,) = capsys.readouterr().err.strip().splitlines()[-1:]
        assert line.startswith("vae-studio: error: device 'mps' was asked for")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert resolve_device("mps") == torch.device("mps")
    assert resolve_device("auto") != torch.device("mps")  # auto never picks MPS
