import dataclasses
import os

import pytest
import torch

from vae_core.checkpoint import (
    load_checkpoint,
    load_model,
    save_trainer,
)
from vae_core.errors import VaeStudioError
from vae_core.training.compiled import CompiledObjective, compile_unavailable
from vae_core.training.trainer import Trainer, TrainingDiverged


def _with_train(config, **changes):
    return dataclasses.replace(config, train=dataclasses.replace(config.train, **changes))


def _weights(trainer):
    return {name: value.clone() for name, value in trainer.model.state_dict().items()}


def _assert_same_weights(first, second):
    assert first.keys() == second.keys()
    for name in first:
        assert torch.equal(first[name], second[name]), name


def test_snapshots_come_every_log_interval_and_the_loss_falls(small_config, small_glyphs):
    trainer = Trainer(_with_train(small_config, max_steps=60), small_glyphs)
    snapshots = list(trainer.run())
    assert [s.step for s in snapshots] == [10, 20, 30, 40, 50, 60]
    assert snapshots[-1].finished and not snapshots[0].finished
    assert snapshots[-1].loss < snapshots[0].loss
    assert snapshots[0].kl_per_dim.shape == (2,)
    # 10 steps of 50 make one epoch of 500: each snapshot ends an epoch.
    assert [(s.epoch, s.epoch_progress) for s in snapshots[:2]] == [(0, 1.0), (1, 1.0)]
    assert all(
        s.images_per_s > 0 and s.loss == pytest.approx(s.recon + s.beta * s.kl, rel=1e-4)
        for s in snapshots
    )


def test_same_seed_same_weights_bit_for_bit(small_config, small_glyphs):
    runs = []
    for _ in range(2):
        trainer = Trainer(small_config, small_glyphs)
        list(trainer.run())
        runs.append(_weights(trainer))
    _assert_same_weights(*runs)
    other = Trainer(_with_train(small_config, seed=1), small_glyphs)
    list(other.run())
    assert not torch.equal(
        other.model.state_dict()["decoder.net.0.weight"], runs[0]["decoder.net.0.weight"]
    )


def test_resume_from_a_checkpoint_equals_training_straight_through(
    small_config, small_glyphs, tmp_path
):
    straight = Trainer(_with_train(small_config, max_steps=34), small_glyphs)
    list(straight.run())

    first_half = Trainer(_with_train(small_config, max_steps=17), small_glyphs)
    list(first_half.run())
    save_trainer(tmp_path / "half.safetensors", first_half)
    checkpoint = load_checkpoint(tmp_path / "half.safetensors")
    resumed = Trainer(_with_train(checkpoint.config, max_steps=34), small_glyphs)
    resumed.restore(checkpoint.model_state, checkpoint.optimizer_state, checkpoint.counters)
    list(resumed.run())
    assert resumed.step == straight.step == 34
    _assert_same_weights(_weights(straight), _weights(resumed))


def test_checkpoint_round_trip_keeps_config_and_weights(small_config, small_glyphs, tmp_path):
    trainer = Trainer(small_config, small_glyphs)
    list(trainer.run())
    path = tmp_path / "run" / "model.safetensors"
    save_trainer(path, trainer)
    model, checkpoint = load_model(path)
    assert checkpoint.config == trainer.config
    _assert_same_weights(_weights(trainer), model.state_dict())
    assert list(tmp_path.glob("run/*")) == [path]  # the temporary file was renamed, not left behind


def test_failed_write_leaves_the_old_checkpoint_intact(
    small_config, small_glyphs, tmp_path, monkeypatch
):
    trainer = Trainer(small_config, small_glyphs)
    path = tmp_path / "model.safetensors"
    save_trainer(path, trainer)
    before = path.read_bytes()

    def failing_save(tensors, filename, metadata=None):
        with open(filename, "wb") as handle:
            handle.write(b"half")
        raise OSError("disk full")

    monkeypatch.setattr("vae_core.checkpoint.save_file", failing_save)
    with pytest.raises(VaeStudioError, match=f"cannot write {path}: disk full"):
        save_trainer(path, trainer)
    assert path.read_bytes() == before
    assert list(tmp_path.iterdir()) == [path]


@pytest.mark.parametrize(
    "content, message",
    [(b"not a checkpoint at all", "not a readable safetensors"), (None, "not a VAE Studio")],
)
def test_bad_checkpoints_give_one_clear_error(tmp_path, content, message):
    path = tmp_path / "bad.safetensors"
    if content is None:
        save_file_plain = __import__("safetensors.torch", fromlist=["save_file"]).save_file
        save_file_plain({"w": torch.zeros(2)}, str(path))
    else:
        path.write_bytes(content)
    with pytest.raises(VaeStudioError, match=message):
        load_checkpoint(path)


def test_checkpoint_is_never_unpickled(small_config, small_glyphs, tmp_path, monkeypatch):
    trainer = Trainer(small_config, small_glyphs)
    path = tmp_path / "model.safetensors"
    save_trainer(path, trainer)

    def forbidden(*args, **kwargs):
        raise AssertionError("pickle used")

    monkeypatch.setattr("pickle.loads", forbidden)
    monkeypatch.setattr("pickle.load", forbidden)
    monkeypatch.setattr(torch, "load", forbidden)
    load_model(path)


def test_set_beta_reaches_the_objective_between_steps(small_config, small_glyphs):
    trainer = Trainer(_with_train(small_config, max_steps=30), small_glyphs)
    betas = []
    for snapshot in trainer.run():
        betas.append(snapshot.beta)
        trainer.set_beta(0.25)
    assert betas == [1.0, 0.25, 0.25]
    with pytest.raises(VaeStudioError):
        trainer.set_beta(-1)


def test_learning_rate_changes_live(small_config, small_glyphs):
    trainer = Trainer(_with_train(small_config, max_steps=20), small_glyphs)
    rates = []
    for snapshot in trainer.run():
        rates.append(snapshot.learning_rate)
        trainer.set_learning_rate(1e-4)
    assert rates == [1e-3, 1e-4]


def test_stop_ends_the_run_at_the_next_step(small_config, small_glyphs):
    trainer = Trainer(_with_train(small_config, max_steps=1000), small_glyphs)
    run = trainer.run()
    next(run)
    trainer.stop()
    assert list(run) == []
    assert trainer.step == 10


def test_nan_loss_raises_a_clear_error(small_config, small_glyphs):
    trainer = Trainer(small_config, small_glyphs)
    with torch.no_grad():
        trainer.model.decoder.net[0].weight.fill_(float("nan"))
    with pytest.raises(TrainingDiverged, match="loss became nan at step 10"):
        list(trainer.run())


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"batch_size": 0}, "batch size"),
        ({"lr": 0.0}, "learning rate"),
        ({"beta_schedule": "wavy"}, "unknown beta schedule 'wavy'"),
        ({"device": "tpu"}, "unknown device 'tpu'"),
    ],
)
def test_bad_training_values_are_rejected(small_config, small_glyphs, changes, message):
    with pytest.raises(VaeStudioError, match=message):
        Trainer(_with_train(small_config, **changes), small_glyphs)


def test_log_interval_changes_live(small_config, small_glyphs):
    trainer = Trainer(_with_train(small_config, max_steps=60, log_every=10), small_glyphs)
    steps = []
    for snapshot in trainer.run():
        steps.append(snapshot.step)
        trainer.set_log_every(25)
    assert steps == [10, 35, 60]
    with pytest.raises(VaeStudioError):
        trainer.set_log_every(0)


@pytest.mark.parametrize(
    "metadata, message",
    [
        ({"format_version": "one"}, "format version is not a number"),
        (
            {"optimizer_param_groups": "[{"},
            "optimizer settings in the checkpoint: not valid JSON",
        ),
    ],
)
def test_corrupt_checkpoint_metadata_gives_one_clear_error(tmp_path, metadata, message):
    from safetensors.torch import save_file

    from vae_core.config import RunConfig

    path = tmp_path / "odd.safetensors"
    save_file(
        {"model.w": torch.zeros(2)},
        str(path),
        metadata={"format": "vae-studio", "config": RunConfig().to_json(), **metadata},
    )
    with pytest.raises(VaeStudioError, match=message):
        load_checkpoint(path)


def _hierarchical(config, **train):
    model = dataclasses.replace(
        config.model,
        family="hvae",
        hidden=(32,),
        lower_latent_dim=8,
        upper_hidden=(16,),
        latent_dim=4,
        activation="tanh",
    )
    return dataclasses.replace(
        config, model=model, train=dataclasses.replace(config.train, **train)
    )


def _trained(config, data, lines=None):
    trainer = Trainer(config, data, say=None if lines is None else lines.append)
    losses = [snapshot.loss for snapshot in trainer.run()]
    return trainer, losses


def test_compile_draws_the_trainers_own_stream(small_config, small_glyphs, monkeypatch):
    # torch.compile stood in for by the module itself: the swap of generator states alone, fast.
    # A compiled run takes the very draws of an eager one, ends with its generator where the
    # eager run's ends (what a checkpoint saves), and leaves the default generator as it was.
    monkeypatch.setattr(torch, "compile", lambda module, **options: module)
    # The β warm-up changes β every step, and the short last batch (12 of 50) runs eagerly.
    config = _hierarchical(small_config, max_steps=12, beta_schedule="linear", beta_warmup_steps=10)
    eager, eager_losses = _trained(config, small_glyphs)
    outside = torch.get_rng_state()
    lines = []
    compiled, compiled_losses = _trained(_with_train(config, compile=True), small_glyphs, lines)
    assert compiled_losses == eager_losses
    _assert_same_weights(_weights(eager), _weights(compiled))
    assert torch.equal(compiled.generator.get_state(), eager.generator.get_state())
    assert torch.equal(torch.get_rng_state(), outside)
    assert lines == [
        "note: compiling the training step with torch.compile: the first step takes tens of seconds"
    ]


def test_compile_that_fails_says_so_in_one_line_and_trains_eagerly(
    small_config, small_glyphs, monkeypatch
):
    def no_compiler(module, **options):
        def compiled(*arguments):
            raise RuntimeError(
                "InductorError: CppCompileError: C++ compile error\nno compiler found"
            )

        return compiled

    monkeypatch.setattr(torch, "compile", no_compiler)
    eager, eager_losses = _trained(small_config, small_glyphs)
    lines = []
    fallen_back, losses = _trained(_with_train(small_config, compile=True), small_glyphs, lines)
    assert losses == eager_losses
    _assert_same_weights(_weights(eager), _weights(fallen_back))
    assert len(lines) == 2 and "\n" not in lines[1]
    assert lines[1].startswith(
        "note: torch.compile did not run (RuntimeError: InductorError: CppCompileError"
    )
    assert lines[1].endswith("; training eagerly")


def test_compile_is_left_out_where_it_cannot_serve():
    assert compile_unavailable(torch.device("cpu"), 1) is None
    assert (
        compile_unavailable(torch.device("cpu"), 2)
        == "torch.compile is used by a single process only"
    )
    assert compile_unavailable(torch.device("mps"), 1) == "torch.compile is not used on mps"


@pytest.mark.skipif(
    not os.environ.get("VAE_STUDIO_TEST_COMPILE"),
    reason="torch.compile's first compile takes 10 to 90 s on a shared 2-core CPU: set VAE_STUDIO_TEST_COMPILE=1",
)
@pytest.mark.filterwarnings(
    "ignore:`torch.jit.script_method` is deprecated:DeprecationWarning"
)  # torch's own import
def test_a_compiled_run_trains_as_the_eager_one(small_config, small_glyphs):
    config = _hierarchical(
        small_config, max_steps=6, log_every=3, beta_schedule="linear", beta_warmup_steps=10
    )
    eager, eager_losses = _trained(config, small_glyphs)
    compiled, compiled_losses = _trained(_with_train(config, compile=True), small_glyphs, [])
    assert compiled_losses == pytest.approx(eager_losses, rel=1e-5)
    for name, value in _weights(eager).items():
        assert torch.allclose(compiled.model.state_dict()[name], value, atol=1e-5), name
    assert torch.equal(compiled.generator.get_state(), eager.generator.get_state())
    assert isinstance(compiled._objective, CompiledObjective) and compiled._objective.active
    # Another batch size in the same process compiles a graph of its own (static shapes).
    other, _ = _trained(_with_train(config, compile=True, batch_size=25), small_glyphs, [])
    assert other._objective.active
