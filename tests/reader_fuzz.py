"""Every reader of the user's files, fuzzed alike (issue 24): whatever the input holds, the only
allowed outcomes are a result or the project's own error (VaeStudioError, one line; argparse's
usage error for command lines). The test suite runs a few examples of each
(tests/test_fuzz_readers.py); scripts/fuzz_readers.py runs thousands and times them.

Each reader is a Hypothesis strategy of inputs and a call that feeds one input to the reader,
in a fresh folder. Inputs start from valid files and mutate them (bytes overwritten, cut short,
fields replaced), so that they reach past the first check of each format."""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import struct
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from hypothesis import strategies as st

from vae_core.errors import VaeStudioError

_VALUES = st.one_of(
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.booleans(),
    st.lists(st.integers(-5, 10**6), max_size=4),
)
_KEYS = st.sampled_from(
    [
        "data.size",
        "data.dataset",
        "data.image_size",
        "data.seed",
        "model.family",
        "model.hidden",
        "model.latent_dim",
        "model.prior",
        "model.input_shape",
        "model.iw_samples",
        "train.threads",
        "train.max_minutes",
        "train.batch_size",
        "train.lr",
        "train.seed",
        "train.epochs",
        "other.key",
    ]
)


def _mutated(valid: bytes) -> st.SearchStrategy[bytes]:
    """`valid` with a few bytes overwritten, or cut short, or followed by more."""
    overwrite = st.lists(
        st.tuples(st.integers(0, max(0, len(valid) - 1)), st.integers(0, 255)), max_size=6
    ).map(lambda edits: _overwrite(valid, edits))
    return st.one_of(
        overwrite,
        st.integers(0, len(valid)).map(lambda end: valid[:end]),
        st.binary(max_size=64).map(lambda tail: valid + tail),
        st.binary(max_size=256),
    )


def _overwrite(valid: bytes, edits) -> bytes:
    data = bytearray(valid)
    for at, value in edits:
        data[at] = value
    return bytes(data)


def _config_text() -> st.SearchStrategy[str]:
    """TOML of a few keys, each given a value of any type."""

    def toml(pairs) -> str:
        sections: dict[str, list[str]] = {}
        for key, value in pairs:
            section, name = key.split(".")
            sections.setdefault(section, []).append(f"{name} = {json.dumps(value)}")
        return "".join(f"[{s}]\n" + "\n".join(lines) + "\n" for s, lines in sections.items())

    return st.one_of(
        st.lists(st.tuples(_KEYS, _VALUES), max_size=4).map(toml), st.text(max_size=200)
    )


# --- the readers ----------------------------------------------------------------------------


def _valid_npy() -> bytes:
    stream = io.BytesIO()
    np.save(stream, np.arange(4 * 6 * 6, dtype=np.uint8).reshape(4, 6, 6))
    return stream.getvalue()


def _valid_npz() -> bytes:
    stream = io.BytesIO()
    np.savez_compressed(stream, images=np.zeros((3, 5, 5), np.uint8), labels=np.arange(3))
    return stream.getvalue()


def _valid_idx() -> bytes:
    return b"\0\0\x08\x03" + struct.pack(">III", 3, 4, 4) + bytes(range(48))


def _valid_png() -> bytes:
    from PIL import Image

    stream = io.BytesIO()
    Image.new("L", (6, 6), 128).save(stream, format="PNG")
    return stream.getvalue()


def _npy(data: bytes, folder: Path) -> None:
    from vae_core.config import DataConfig
    from vae_core.data.user_files import load_npy

    (folder / "x.npy").write_bytes(data)
    load_npy(DataConfig(), str(folder / "x.npy"))


def _npz(data: bytes, folder: Path) -> None:
    from vae_core.config import DataConfig
    from vae_core.data.user_files import load_npz

    (folder / "x.npz").write_bytes(data)
    load_npz(DataConfig(), str(folder / "x.npz"))


def _idx(data: tuple[bytes, bool], folder: Path) -> None:
    from vae_core.data.idx import read_idx

    content, compressed = data
    (folder / "x.idx").write_bytes(gzip.compress(content) if compressed else content)
    read_idx(folder / "x.idx")


def _image_folder(files: list[tuple[str, bytes]], folder: Path) -> None:
    from vae_core.config import DataConfig
    from vae_core.data.user_images import load_image_folder

    root = folder / "images"
    for name, content in files:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(content)
    root.mkdir(exist_ok=True)
    load_image_folder(DataConfig(), str(root))


def _config(text: str, folder: Path) -> None:
    from vae_core.config import RunConfig

    (folder / "c.toml").write_text(text, encoding="utf-8")
    RunConfig.from_file(folder / "c.toml")


def _config_json(values, folder: Path) -> None:
    from vae_core.config import RunConfig

    RunConfig.from_json(json.dumps(values))


def _preset(text: str, folder: Path) -> None:
    from vae_core.presets import read_preset

    (folder / "p.toml").write_text(text, encoding="utf-8")
    read_preset(folder / "p.toml")


def _lesson(text: str, folder: Path) -> None:
    from app.lessons.lessons import read_lesson

    (folder / "l.toml").write_text(text, encoding="utf-8")
    read_lesson(folder / "l.toml")


def _metrics(data: bytes, folder: Path) -> None:
    from vae_core.metrics_reader import MetricsTail

    (folder / "metrics.csv").write_bytes(data)
    MetricsTail(folder / "metrics.csv").read()


_VALID_CHECKPOINT: list[bytes] = []


def valid_checkpoint() -> bytes:
    """A checkpoint the trainer saved after a step of a tiny model (made once)."""
    if not _VALID_CHECKPOINT:
        import tempfile

        from vae_core.checkpoint import save_trainer
        from vae_core.config import DataConfig, ModelConfig, RunConfig, TrainConfig
        from vae_core.data import load_data
        from vae_core.metrics_columns import METRICS_COLUMNS
        from vae_core.training.trainer import Trainer

        config = RunConfig(
            data=DataConfig(dataset="glyphs", size=120),
            model=ModelConfig(hidden=(4,), latent_dim=2),
            train=TrainConfig(batch_size=40, max_steps=1, log_every=1, heldout_every=0),
        )
        trainer = Trainer(config, load_data(config.data), "cpu")
        list(trainer.run())
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "c.safetensors"
            save_trainer(path, trainer, history=[(1.0,) * len(METRICS_COLUMNS)])
            _VALID_CHECKPOINT.append(path.read_bytes())
    return _VALID_CHECKPOINT[0]


def _checkpoint(data: bytes, folder: Path) -> None:
    from vae_core.checkpoint import load_checkpoint

    (folder / "checkpoint.safetensors").write_bytes(data)
    load_checkpoint(folder / "checkpoint.safetensors")


def _command_line(words: list[str], folder: Path) -> None:
    from vae_core.cli_flags import apply_flags, build_parser
    from vae_core.config import RunConfig

    arguments = build_parser().parse_args(["train", "--out", str(folder / "run"), *words])
    apply_flags(RunConfig(), arguments)


_FLAGS = st.sampled_from(
    [
        "--threads",
        "--max-minutes",
        "--seed",
        "--hidden",
        "--latent-dim",
        "--batch-size",
        "--lr",
        "--image-size",
        "--model",
        "--adam-betas",
        "--save-every",
        "--epochs",
        "--max-steps",
        "--dataset",
    ]
)
_FLAG_VALUES = st.one_of(
    st.integers(-(2**70), 2**70).map(str),
    st.floats().map(repr),
    st.text(max_size=10),
    st.sampled_from(["1e64", "inf", "nan", "", "0", "vea", "1,2", "-0"]),
)
_IMAGE_NAMES = st.sampled_from(["a.png", "b.jpg", "c/d.png", "c/e/f.jpeg", "g.txt", ".h.png"])


@dataclass(frozen=True)
class Reader:
    name: str
    inputs: Callable[[], st.SearchStrategy]
    read: Callable[[object, Path], None]


READERS = [
    Reader("checkpoint", lambda: _mutated(valid_checkpoint()), _checkpoint),
    Reader("config (TOML)", _config_text, _config),
    Reader(
        "config (JSON)",
        lambda: st.recursive(
            st.dictionaries(st.sampled_from(["data", "model", "train", "x"]), _VALUES, max_size=3),
            lambda inner: st.dictionaries(st.sampled_from(["data", "model", "train"]), inner),
            max_leaves=6,
        ),
        _config_json,
    ),
    Reader(
        "preset",
        lambda: _config_text().flatmap(
            lambda text: st.sampled_from(['description = "d"\n', "", 'description = ""\n']).map(
                lambda head: head + text
            )
        ),
        _preset,
    ),
    Reader(
        "lesson",
        lambda: st.one_of(
            st.text(max_size=300),
            st.text(alphabet="<>tabler/d#*>[]\n\"'= ", max_size=300).map(
                lambda text: f'title = "T"\ntext = """{text}"""\n[[steps]]\ntitle = "s"\n'
            ),
        ),
        _lesson,
    ),
    Reader("metrics.csv", lambda: _mutated(b"step,loss,kl\n1,2.5,0.1\n2,inf,nan\n"), _metrics),
    Reader("IDX", lambda: st.tuples(_mutated(_valid_idx()), st.booleans()), _idx),
    Reader("npy", lambda: _mutated(_valid_npy()), _npy),
    Reader("npz", lambda: _mutated(_valid_npz()), _npz),
    Reader(
        "image folder",
        lambda: st.lists(st.tuples(_IMAGE_NAMES, _mutated(_valid_png())), max_size=3),
        _image_folder,
    ),
    Reader(
        "command line",
        lambda: st.lists(st.one_of(_FLAGS, _FLAG_VALUES), max_size=6),
        _command_line,
    ),
]


def read_allowing_only_our_errors(reader: Reader, example, folder: Path) -> str:
    """ "read" or "refused"; any other outcome raises AssertionError naming it."""
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            reader.read(example, folder)
    except VaeStudioError as error:
        assert "\n" not in str(error), f"{reader.name}: a message of several lines: {error!r}"
        return "refused"
    except SystemExit as exit_:  # argparse's one line of usage error
        assert reader.name == "command line" and exit_.code == 2, f"{reader.name}: {exit_!r}"
        return "refused"
    except zipfile.BadZipFile as error:  # named for the assertion below: never allowed
        raise AssertionError(f"{reader.name}: {error!r}") from error
    return "read"
