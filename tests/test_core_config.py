import subprocess
import sys

import pytest

from vae_core.config import ConfigError, DataConfig, ModelConfig, RunConfig, TrainConfig


def _custom_config() -> RunConfig:
    return RunConfig(
        data=DataConfig(dataset="mnist", data_dir="/tmp/mnist", mirrors=("http://a/", "http://b/")),
        model=ModelConfig(
            hidden=(400, 200), latent_dim=20, likelihood="gaussian", input_shape=(1, 28, 28)
        ),
        train=TrainConfig(max_steps=123, lr=3e-4, beta=4.0, beta_schedule="cyclical", threads=1),
    )


def test_config_round_trips_through_json_and_toml():
    config = _custom_config()
    assert RunConfig.from_json(config.to_json()) == config
    assert RunConfig.from_toml(config.to_toml()) == config


def test_unset_optional_values_survive_toml():
    config = RunConfig()
    assert config.train.max_steps is None
    assert RunConfig.from_toml(config.to_toml()) == config


def test_partial_config_keeps_defaults():
    config = RunConfig.from_toml("[model]\nlatent_dim = 8\n[train]\nlr = 1\n")
    assert config.model.latent_dim == 8
    assert config.train.lr == 1.0 and isinstance(config.train.lr, float)
    assert config.model.hidden == ModelConfig().hidden


@pytest.mark.parametrize(
    "text, message",
    [
        ("[model]\nlatent_dimm = 8\n", "unknown config key 'model.latent_dimm'"),
        ("[modle]\n", "unknown config key 'modle'"),
        ('[train]\nepochs = "ten"\n', "config key 'train.epochs' must be int"),
        ("[model]\nhidden = 400\n", "config key 'model.hidden' must be a list"),
        ("[train\n", "not valid TOML"),
        ("[data]\nsize = -5\n", "config key 'data.size' must be at least 1, got -5"),
        (
            "[model]\ninput_shape = [1, -28, 28]\n",
            "config key 'model.input_shape' must be at least 1, got -28",
        ),
        ("[model]\ninput_shape = [28, 28]\n", "'model.input_shape' must be empty or hold 3 sizes"),
        ("[model]\nhidden = [400, 0]\n", "config key 'model.hidden' must be at least 1, got 0"),
        ("[train]\nlr = nan\n", "config key 'train.lr' must be a finite number, got nan"),
        ("[train]\nlr = -0.5\n", "config key 'train.lr' must be more than 0, got -0.5"),
        (
            "[data]\ntest_fraction = 1.0\n",
            "config key 'data.test_fraction' must be less than 1, got 1.0",
        ),
        ("[train]\nthreads = 0\n", "config key 'train.threads' must be at least 1, got 0"),
    ],
)
def test_bad_config_names_the_problem(text, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(".", r"\.")):
        RunConfig.from_toml(text)


def test_config_file_that_is_missing(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config"):
        RunConfig.from_file(tmp_path / "nope.toml")


def test_core_never_imports_qt():
    code = (
        "import pkgutil, importlib, sys, vae_core\n"
        "for module in pkgutil.walk_packages(vae_core.__path__, 'vae_core.'):\n"
        "    importlib.import_module(module.name)\n"
        "qt = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'PyQt5', 'PyQt6', 'pyqtgraph', 'shiboken6', 'qtpy', 'superqt')]\n"
        "print(len(list(pkgutil.walk_packages(vae_core.__path__))), qt)\n"
        "sys.exit(1 if qt else 0)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
