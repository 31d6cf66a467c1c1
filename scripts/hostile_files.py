"""Issue 13's hostile cases of checkpoints and data files, as hostile_inputs.py runs them."""

from __future__ import annotations

import gzip
import json
import os
import struct
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import hostile_common as common
import numpy as np
import torch
from hostile_common import HUGE, Outcome, cli, in_process
from PIL import Image

from vae_core.config import DataConfig
from vae_core.data.user_images import load_image_folder

# --- Checkpoints -------------------------------------------------------------------------------


def _first_weight(tensors: dict) -> str:
    return next(
        name
        for name in tensors
        if name.startswith("model.") and tensors[name].dtype == torch.float32
    )


def _set(name, value):
    return lambda tensors, metadata: tensors.__setitem__(name, value)


def _config_change(section: str, key: str, value):
    def change(tensors, metadata):
        config = json.loads(metadata["config"])
        config[section][key] = value
        metadata["config"] = json.dumps(config)

    return change


def _learning_rate(value):
    def change(tensors, metadata):
        groups = json.loads(metadata["optimizer_param_groups"])
        groups[0]["lr"] = value
        metadata["optimizer_param_groups"] = json.dumps(groups)

    return change


def _weights(change_tensor):
    def change(tensors, metadata):
        name = _first_weight(tensors)
        tensors[name] = change_tensor(tensors[name])

    return change


def _nan(tensor):
    tensor = tensor.clone()
    tensor.view(-1)[0] = float("nan")
    return tensor


def _order_entry(tensors, metadata):
    tensors["counter.order"] = tensors["counter.order"].clone()
    tensors["counter.order"][0] = HUGE


def _evaluate_changed(name, change) -> Outcome:
    return cli("evaluate", common.WORKSPACE.changed_run(name, change))


def _resume_changed(name, change) -> Outcome:
    return cli(
        "train", "--out", common.WORKSPACE.changed_run(name, change), "--resume", "--max-steps", 4
    )


class _Payload:
    """A pickle that would make a folder if it were ever unpickled."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.mkdir, (str(self.marker),)


def _pickle_renamed() -> Outcome:
    folder = common.WORKSPACE.folder / "pickled"
    folder.mkdir()
    marker = common.WORKSPACE.folder / "pickle-ran"
    torch.save({"payload": _Payload(marker)}, folder / "checkpoint.safetensors")
    outcome = cli("evaluate", folder)
    if marker.exists():
        return Outcome(False, "the pickle ran")
    return Outcome(outcome.held, outcome.text + "; the pickle never ran")


CHECKPOINTS = [
    (
        "a tensor named optimizer.state.x.exp_avg (evaluate)",
        "traceback in load_checkpoint",
        lambda: _evaluate_changed("extra", _set("optimizer.state.x.exp_avg", torch.zeros(1))),
    ),
    (
        "no counter.step (--resume)",
        "KeyError traceback",
        lambda: _resume_changed("no-step", lambda tensors, metadata: tensors.pop("counter.step")),
    ),
    (
        "counter.order holding 1e9 (--resume)",
        "IndexError traceback",
        lambda: _resume_changed("order", _order_entry),
    ),
    (
        "counter.step as a float (--resume)",
        "traceback",
        lambda: _resume_changed("dtype", _set("counter.step", torch.tensor(2.5))),
    ),
    (
        "config data.size < 0 (evaluate)",
        "traceback",
        lambda: _evaluate_changed("size", _config_change("data", "size", -1)),
    ),
    (
        "config model.input_shape < 0 (evaluate)",
        "traceback",
        lambda: _evaluate_changed("shape", _config_change("model", "input_shape", [-1, 28, 28])),
    ),
    (
        "a NaN weight (evaluate)",
        "exit 0, prints NaN (not JSON)",
        lambda: _evaluate_changed("nan", _weights(_nan)),
    ),
    (
        "bool weights (evaluate)",
        "accepted",
        lambda: _evaluate_changed("bool", _weights(lambda t: t > 0)),
    ),
    (
        "int32 weights (evaluate)",
        "accepted",
        lambda: _evaluate_changed("int32", _weights(lambda t: t.int())),
    ),
    (
        "learning rate NaN (--resume)",
        "accepted; blamed later",
        lambda: _resume_changed("lr-nan", _learning_rate(float("nan"))),
    ),
    (
        "learning rate -0.5 (--resume)",
        "accepted",
        lambda: _resume_changed("lr-negative", _learning_rate(-0.5)),
    ),
    (
        "step -5 (--resume)",
        "accepted",
        lambda: _resume_changed("step", _set("counter.step", torch.tensor(-5))),
    ),
    ("a pickle renamed .safetensors (evaluate)", "refused, never ran (held)", _pickle_renamed),
]


# --- Data --------------------------------------------------------------------------------------


def _replaced_data(command: str) -> Outcome:
    images = common.WORKSPACE.folder / f"replaced-{command}.npy"
    np.save(images, np.zeros((60, 28, 28), dtype=np.uint8))
    run = common.WORKSPACE.folder / f"replaced-{command}"
    trained = cli(
        "train",
        "--out",
        run,
        "--dataset",
        f"npy:{images}",
        "--config",
        common.WORKSPACE.small,
        "--max-steps",
        1,
        success=True,
    )
    if not trained.held:
        return trained
    np.save(images, np.zeros((60, 32, 32), dtype=np.uint8))
    return cli(command, run, *(["--steps", 2, "--k", 10] if command == "analyze" else []))


def _sixteen_bit_ramp() -> Outcome:
    folder = common.WORKSPACE.folder / "ramp"
    folder.mkdir()
    Image.fromarray(np.array([[0, 257, 32896, 65535]], dtype=np.uint16)).save(folder / "ramp.png")
    outcome = in_process(
        lambda: str(load_image_folder(DataConfig(), str(folder)).images.flatten().tolist())
    )
    return Outcome(outcome.text == "[0, 1, 128, 255]", f"loads as {outcome.text}")


def _image_folder(name: str, make: Callable[[Path], None], *flags, success=False) -> Outcome:
    folder = common.WORKSPACE.folder / name
    folder.mkdir()
    make(folder)
    return cli(
        "train",
        "--out",
        folder / "run",
        "--dataset",
        f"folder:{folder}",
        "--config",
        common.WORKSPACE.small,
        "--max-steps",
        1,
        *flags,
        timeout=60,
        success=success,
    )


def _small_images(folder: Path, count: int = 4) -> None:
    for index in range(count):
        Image.new("L", (8, 8), color=index * 40).save(folder / f"{index}.png")


def _with_fifo(folder: Path) -> None:
    _small_images(folder)
    os.mkfifo(folder / "x.png")


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _bomb(folder: Path) -> None:
    """A small file whose header promises 100,000 x 100,000 grey pixels."""
    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 0, 0, 0, 0)
    rows = zlib.compress(b"\0" * 100_001 * 4)
    (folder / "bomb.png").write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", rows)
        + _png_chunk(b"IEND", b"")
    )


def _array_file(name: str, write: Callable[[Path], None], success=False) -> Outcome:
    path = common.WORKSPACE.folder / name
    write(path)
    kind = "npz" if name.endswith(".npz") else "npy"
    return cli(
        "train",
        "--out",
        common.WORKSPACE.folder / f"run-{name}",
        "--dataset",
        f"{kind}:{path}",
        "--config",
        common.WORKSPACE.small,
        "--max-steps",
        1,
        success=success,
    )


def _labelled(labels: list[int]) -> Callable[[Path], None]:
    return lambda path: np.savez(
        path, images=np.zeros((len(labels), 8, 8), dtype=np.uint8), labels=np.array(labels)
    )


def _no_arrays(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "no arrays here")


def _empty_idx() -> Outcome:
    folder = common.WORKSPACE.folder / "idx"
    folder.mkdir()
    empty_images = b"\0\0\x08\x03" + struct.pack(">III", 0, 28, 28)
    empty_labels = b"\0\0\x08\x01" + struct.pack(">I", 0)
    for prefix in ("train", "t10k"):
        (folder / f"{prefix}-images-idx3-ubyte.gz").write_bytes(gzip.compress(empty_images))
        (folder / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(empty_labels))
    return cli("train", "--out", folder / "run", "--dataset", f"idx:{folder}", "--max-steps", 1)


def _config_file(name: str, content: bytes) -> Outcome:
    path = common.WORKSPACE.folder / name
    path.write_bytes(content)
    return cli("train", "--out", common.WORKSPACE.folder / f"run-{name}", "--config", path)


DATA = [
    (
        "28x28 npy replaced by 32x32 (evaluate)",
        "'mat1 and mat2 shapes' traceback",
        lambda: _replaced_data("evaluate"),
    ),
    (
        "28x28 npy replaced by 32x32 (analyze)",
        "'mat1 and mat2 shapes' traceback",
        lambda: _replaced_data("analyze"),
    ),
    ("16-bit PNG ramp 0, 257, 32896, 65535", "loads as 0, 255, 255, 255", _sixteen_bit_ramp),
    (
        "a FIFO named x.png in a folder",
        "hangs (killed at 60 s)",
        lambda: _image_folder("fifo", _with_fifo, success=True),
    ),
    (
        "5000x5000 image, no --image-size",
        "tries a 40 GB allocation",
        lambda: _image_folder("large", lambda f: Image.new("L", (5000, 5000)).save(f / "a.png")),
    ),
    ("PNG decompression bomb (100,000² header)", "traceback", lambda: _image_folder("bomb", _bomb)),
    (
        "--image-size 100000",
        "traceback",
        lambda: _image_folder("absurd", _small_images, "--image-size", 100000),
    ),
    (
        f"--image-size {HUGE}",
        "'can't allocate memory' traceback",
        lambda: _image_folder("absurder", _small_images, "--image-size", HUGE),
    ),
    (
        "npy with zero images",
        "traceback",
        lambda: _array_file("none.npy", lambda p: np.save(p, np.zeros((0, 28, 28), np.uint8))),
    ),
    ("IDX files with 0 images", "traceback", _empty_idx),
    ("a zip without arrays as npz", "traceback", lambda: _array_file("notes.npz", _no_arrays)),
    (
        "a binary file as TOML config",
        "traceback",
        lambda: _config_file("binary.toml", bytes(range(256))),
    ),
    (
        "a single label of 1e6",
        "1,000,001 classes",
        lambda: _array_file("sparse.npz", _labelled([10**6, 0, 10**6, 0]), success=True),
    ),
    (
        "labels up to 2^40",
        "MemoryError after 5.3 GiB",
        lambda: _array_file("wide.npz", _labelled([0, 10**6, 2**40, 1]), success=True),
    ),
    (
        "epochs = 0",
        "saves an untrained model",
        lambda: _config_file("epochs.toml", b"[train]\nepochs = 0\n"),
    ),
    (
        "max_steps = 0",
        "saves an untrained model",
        lambda: _config_file("steps.toml", b"[train]\nmax_steps = 0\n"),
    ),
    (
        "size = 0",
        "silently the default size",
        lambda: _config_file("size.toml", b"[data]\nsize = 0\n"),
    ),
]
