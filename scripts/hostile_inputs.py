#!/usr/bin/env python
"""Every hostile or careless input of issues 13 and 24, tried as a user would, the outcome measured.

    python scripts/hostile_inputs.py [--only WORD]

prints a Markdown table: section, case, what the issue measured when it was filed ("before"),
what happens now ("after") and whether the case holds. A case holds when it ends in one line of
`vae-studio: error: ...` and a non-zero exit (or, where the input is fine, in a correct result),
with no traceback and no hang. Nothing reaches the network: downloads come from 127.0.0.1.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import http.server
import json
import os
import shutil
import struct
import sys
import tempfile
import threading
import time
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))

import hostile_common as common  # noqa: E402
from hostile_common import HUGE, Outcome, Workspace, cli, in_process  # noqa: E402
from hostile_reliability import SECTIONS as ISSUE_24_SECTIONS  # noqa: E402

from vae_core.config import DataConfig  # noqa: E402
from vae_core.data import downloads  # noqa: E402
from vae_core.data.downloads import RemoteFile  # noqa: E402
from vae_core.data.user_images import load_image_folder  # noqa: E402

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


# --- Downloads ---------------------------------------------------------------------------------

_BODY = bytes(range(256)) * 40
_REMOTE = RemoteFile("file.gz", len(_BODY), "sha256", hashlib.sha256(_BODY).hexdigest())


class _Mirror(http.server.BaseHTTPRequestHandler):
    """/endless/: zeros without end or length; /trickle/: a byte at a time; /to-http/ and
    /to-file/: redirects to plain http and to a file: URL."""

    def do_GET(self):
        behaviour = self.path.strip("/").split("/")[0]
        if behaviour.startswith("to-"):
            self.send_response(302)
            target = (
                f"http://{self.headers['Host']}/good/{_REMOTE.name}"
                if behaviour == "to-http"
                else "file:///etc/passwd"
            )
            self.send_header("Location", target)
            self.end_headers()
            return
        self.send_response(200)
        if behaviour != "endless":
            self.send_header("Content-Length", str(len(_BODY)))
        self.end_headers()
        try:
            while behaviour == "endless":
                self.wfile.write(bytes(1 << 16))
            for byte in _BODY[:50]:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(0.1)
        except OSError:  # the client gave up
            pass

    def log_message(self, *args):
        pass


def _download(behaviour: str) -> Outcome:
    folder = common.WORKSPACE.folder / f"download-{behaviour}"
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Mirror)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    # The deadline's floor is a minute; a trickle is shown to end at it with a floor of one second.
    floor, downloads._MIN_DEADLINE_S = downloads._MIN_DEADLINE_S, 1.0
    started = time.monotonic()
    try:
        outcome = in_process(
            lambda: str(
                downloads.download(
                    _REMOTE, folder, [f"http://127.0.0.1:{server.server_port}/{behaviour}/"]
                )
            )
        )
    finally:
        downloads._MIN_DEADLINE_S = floor
        server.shutdown()
    left = sorted(path.name for path in folder.iterdir())
    held = outcome.text.startswith("VaeStudioError") and not left
    return Outcome(
        held, f"{outcome.text} ({time.monotonic() - started:.1f} s, {len(left)} files left)"
    )


DOWNLOADS = [
    (
        "a mirror streaming an endless body",
        "filled a 300 MiB disk in 2.1 s",
        lambda: _download("endless"),
    ),
    (
        "a mirror sending a byte every 0.1 s (deadline floor set to 1 s)",
        "never trips the 30 s time-out",
        lambda: _download("trickle"),
    ),
    ("a redirect to plain http", "followed", lambda: _download("to-http")),
    ("a redirect to file:///etc/passwd", "refused as 'HTTP 302'", lambda: _download("to-file")),
]


# --- Flags, values and memory ------------------------------------------------------------------


def _train_flags(*flags) -> Outcome:
    return cli("train", "--out", common.WORKSPACE.folder / "flags", "--max-steps", 1, *flags)


FLAGS = [
    (
        f"--latent-dim {HUGE}",
        "'can't allocate memory' traceback",
        lambda: _train_flags("--latent-dim", HUGE),
    ),
    (
        f"--hidden {HUGE}",
        "'can't allocate memory' traceback",
        lambda: _train_flags("--hidden", HUGE),
    ),
    (
        f"--prior mog --prior-components {HUGE}",
        "'can't allocate memory' traceback",
        lambda: _train_flags("--prior", "mog", "--prior-components", HUGE),
    ),
    (
        f"--model vqvae --codebook-size {HUGE}",
        "'can't allocate memory' traceback",
        lambda: _train_flags("--model", "vqvae", "--codebook-size", HUGE),
    ),
    (
        f"--model vqvae --code-positions {HUGE}",
        "'can't allocate memory' traceback",
        lambda: _train_flags("--model", "vqvae", "--code-positions", HUGE),
    ),
    (
        f"--iw-samples {HUGE}",
        "'can't allocate memory' traceback",
        lambda: _train_flags("--iw-samples", HUGE),
    ),
    (
        "--iw-samples 100000 --batch-size 128",
        "'can't allocate memory' traceback",
        lambda: _train_flags("--iw-samples", 100_000, "--batch-size", 128),
    ),
    (
        f"analyze --k {HUGE}",
        "'can't allocate memory' traceback",
        lambda: cli("analyze", common.WORKSPACE.run_folder, "--k", HUGE),
    ),
    ("--seed 18446744073709551616", "'Overflow' traceback", lambda: _train_flags("--seed", 2**64)),
]


# --- Messages ----------------------------------------------------------------------------------


def _unreadable_checkpoint() -> Outcome:
    folder = common.WORKSPACE.folder / "unreadable"
    shutil.copytree(common.WORKSPACE.run_folder, folder)
    (folder / "checkpoint.safetensors").chmod(0)
    # Root reads a file of mode 000 anyway, unless it gives up the capabilities that let it.
    prefix = (
        ("setpriv", "--bounding-set=-dac_override,-dac_read_search") if os.geteuid() == 0 else ()
    )
    if prefix and not shutil.which("setpriv"):
        return Outcome(False, "not measured: running as root without setpriv")
    return cli("evaluate", folder, prefix=prefix)


def _full_disk_metrics() -> Outcome:
    if not Path("/dev/full").exists():
        return Outcome(False, "not measured: no /dev/full")
    out = common.WORKSPACE.folder / "full"
    out.mkdir()
    (out / "metrics.csv").symlink_to("/dev/full")
    return cli(
        "train", "--out", out, "--config", common.WORKSPACE.small, "--max-steps", 2, "--overwrite"
    )


def _empty_out() -> Outcome:
    folder = common.WORKSPACE.folder / "current"
    folder.mkdir()
    outcome = cli("train", "--out", "", "--max-steps", 1, cwd=folder)
    written = len(list(folder.iterdir()))
    return Outcome(
        outcome.held and not written,
        outcome.text + (f"; wrote {written} files here" if written else ""),
    )


MESSAGES = [
    (
        "a newline in a file name (evaluate 'run⏎x')",
        "the error line split in two",
        lambda: cli("evaluate", common.WORKSPACE.folder / "run\nx"),
    ),
    ("a checkpoint of mode 000", "'No such file or directory'", _unreadable_checkpoint),
    (
        "a disk filled while writing metrics.csv",
        "': No space left on device', no file",
        _full_disk_metrics,
    ),
    ('--out ""', "writes into the current folder", _empty_out),
]

SECTIONS = {
    "Checkpoints": CHECKPOINTS,
    "Data": DATA,
    "Downloads": DOWNLOADS,
    "Flags and memory": FLAGS,
    "Messages": MESSAGES,
    **ISSUE_24_SECTIONS,
}


def _kind_of_failure(outcome: Outcome) -> str:
    if outcome.text.startswith("traceback"):
        return "tracebacks"
    if outcome.text.startswith("still running"):
        return "hangs"
    return "accepted although wrong (or another outcome)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--only", metavar="WORD", help="run the cases whose section or name holds WORD"
    )
    only = (parser.parse_args().only or "").lower()
    print("| section | case | before (issue 13 or 24) | after (measured now) | holds |")
    print("|---|---|---|---|---|")
    failures: dict[str, int] = {}
    cases_run = 0
    with tempfile.TemporaryDirectory(prefix="hostile-") as folder:
        common.WORKSPACE = Workspace(Path(folder))
        for section, cases in SECTIONS.items():
            for name, before, run in cases:
                if only and only not in f"{section} {name}".lower():
                    continue
                outcome = run()
                cases_run += 1
                if not outcome.held:
                    kind = _kind_of_failure(outcome)
                    failures[kind] = failures.get(kind, 0) + 1
                cells = [
                    section,
                    name,
                    before,
                    outcome.text.replace("|", "\\|"),
                    "yes" if outcome.held else "**no**",
                ]
                print("| " + " | ".join(cells) + " |", flush=True)
    held = cases_run - sum(failures.values())
    kinds = ", ".join(f"{count} {kind}" for kind, count in failures.items()) or "none failed"
    print(f"\n{held} of {cases_run} cases hold; {kinds}.")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
