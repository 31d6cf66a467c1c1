"""Issue 24's hostile cases, as hostile_inputs.py runs them: what gave a traceback, froze or crashed
the window, hung, or was accepted although wrong, and the races of two writers on one lock. The
window's cases are in hostile_window_cases.py."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import hostile_common as common
import torch
from hostile_bombs import idx_header, npy_header, write_gzip_bomb, write_npz_bomb, write_sparse
from hostile_common import ENVIRONMENT, ROOT, Outcome, cli, in_process
from hostile_window_cases import WINDOW, in_thread, remove_deep
from PIL import Image

from vae_core import memory
from vae_core.config import ModelConfig, RunConfig
from vae_core.memory import GIB

GB = 10**9


def _folder(name: str) -> Path:
    folder = common.WORKSPACE.folder / name
    folder.mkdir()
    return folder


def _train(out: Path, *flags, success: bool = False, timeout: float = 120) -> Outcome:
    return cli(
        "train",
        "--out",
        out,
        "--dataset",
        f"npy:{common.WORKSPACE.images}",
        "--config",
        common.WORKSPACE.small,
        "--max-steps",
        1,
        *flags,
        success=success,
        timeout=timeout,
    )


def _config_file(name: str, text: str) -> Outcome:
    path = common.WORKSPACE.write(name, text)
    return cli("train", "--out", common.WORKSPACE.folder / f"run-{name}", "--config", path)


def _evaluate_changed(name: str, change: Callable[[dict, dict], None]) -> Outcome:
    return cli("evaluate", common.WORKSPACE.changed_run(name, change))


def _metadata(key: str, text: str):
    return lambda tensors, metadata: metadata.__setitem__(key, text)


def _history_with(value: float):
    def change(tensors, metadata):
        table = tensors["history.metrics"].clone()
        table[0, -1] = value
        tensors["history.metrics"] = table

    return change


def _wide_history(tensors, metadata):
    tensors["history.metrics"] = torch.zeros(1, 1_000_000, dtype=torch.float64)
    metadata["history_columns"] = json.dumps([f"c{i}" for i in range(1_000_000)])


def _short_generator(tensors, metadata):
    tensors["counter.generator_state"] = tensors["counter.generator_state"][:100].clone()


def _deep_image_folder() -> Outcome:
    folder = _folder("deep-images")
    Image.new("L", (8, 8)).save(folder / "top.png")
    here = os.getcwd()
    os.chdir(folder)
    try:
        for _ in range(1100):  # relative steps: the full path is past the system's limit
            os.mkdir("d")
            os.chdir("d")
    finally:
        os.chdir(here)
    outcome = cli("train", "--out", _folder("deep-run"), "--dataset", f"folder:{folder}")
    remove_deep(folder, 1100)
    return outcome


def _array(name: str, head: bytes, size: int, kind: str = "npy") -> Outcome:
    path = common.WORKSPACE.folder / name
    write_sparse(path, head, size)
    return cli("train", "--out", _folder(f"run-{name}"), "--dataset", f"{kind}:{path}")


def _signal_at_start(number: int) -> Outcome:
    out = common.WORKSPACE.folder / f"signalled-{number}"
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "main.py"), "train", "--out", str(out)],
        stderr=subprocess.PIPE,
        text=True,
        env=ENVIRONMENT,
    )
    time.sleep(0.3)
    process.send_signal(number)
    _, err = process.communicate(timeout=120)
    lines = err.strip().splitlines()
    held = "Traceback" not in err and process.returncode == 128 + number and len(lines) == 1
    return Outcome(held, f"exit {process.returncode}: {common._cut(lines[-1] if lines else '')}")


def _with_lock(name: str, make: Callable[[Path], None], success: bool = False) -> Outcome:
    out = _folder(name)
    make(out / "run.lock")
    return _train(out, success=success, timeout=60)


def _classes(count: int) -> Outcome:
    folder = _folder(f"classes-{count}")
    png = common.WORKSPACE.folder / "one.png"
    Image.new("L", (4, 4)).save(png)
    content = png.read_bytes()
    for index in range(count):
        (folder / f"c{index}").mkdir()
        (folder / f"c{index}" / "x.png").write_bytes(content)
    return cli("train", "--out", _folder(f"classes-run-{count}"), "--dataset", f"folder:{folder}")


def _estimate(free_gib: float, check: Callable[[], None]) -> Outcome:
    """A memory check as on a machine with `free_gib` free: refused in one line is held."""
    saved = memory.available_bytes
    memory.available_bytes = lambda device: int(free_gib * GIB)
    try:
        outcome = in_process(lambda: (check(), "accepted")[1])
    finally:
        memory.available_bytes = saved
    return Outcome(outcome.held and outcome.text != "accepted", outcome.text)


def _fits(model: ModelConfig):
    return lambda: memory.check_training_fits(RunConfig(model=model), torch.device("cpu"))


def _gzip_idx(name: str, shape: tuple[int, ...], zeros: int) -> Outcome:
    folder = _folder(name)
    started = time.monotonic()
    write_gzip_bomb(folder / "train-images-idx3-ubyte.gz", idx_header(shape), zeros)
    outcome = in_thread(lambda: _read_idx(folder / "train-images-idx3-ubyte.gz"), timeout=120)
    size = (folder / "train-images-idx3-ubyte.gz").stat().st_size
    return Outcome(
        outcome.held and outcome.text.startswith("VaeStudioError"),
        f"{size / 1e6:.0f} MB file: {outcome.text} ({time.monotonic() - started:.1f} s)",
    )


def _read_idx(path: Path) -> str:
    from vae_core.data.idx import read_idx

    return f"read {read_idx(path).shape}"


def _npz_bomb() -> Outcome:
    path = common.WORKSPACE.folder / "bomb.npz"
    write_npz_bomb(path, 11_500_000)  # 9.0 GB of images
    outcome = cli("train", "--out", _folder("run-bomb-npz"), "--dataset", f"npz:{path}")
    return Outcome(outcome.held, f"{path.stat().st_size / 1e6:.0f} MB file: {outcome.text}")


def _two_writers(attempts: int) -> Outcome:
    """Two processes started together on a stale lock, `attempts` times: exactly one may win."""
    script = (
        "import sys, pathlib\nfrom vae_core.run_lock import RunFolderLock\n"
        "with RunFolderLock(pathlib.Path(sys.argv[1])):\n"
        "    print('won', flush=True); sys.stdin.read()\n"
    )
    bad = []
    for attempt in range(attempts):
        folder = _folder(f"race-{attempt}")
        (folder / "run.lock").write_text("999999999\n")  # no such process: stale
        writers = [
            subprocess.Popen(
                [sys.executable, "-c", script, str(folder)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                cwd=ROOT,
            )
            for _ in range(2)
        ]
        first = [writer.stdout.readline() for writer in writers]
        results = [writer.communicate("", timeout=60) for writer in writers]
        told = [err for _, err in results if "being written by another run (process" in err]
        if sorted(first) != ["", "won\n"] or len(told) != 1:
            bad.append(attempt)
    return Outcome(not bad, f"{attempts - len(bad)} of {attempts}: one won, the other was told")


TRACEBACKS = [
    (
        "history column names nested 50,000 deep (evaluate)",
        "RecursionError",
        lambda: _evaluate_changed(
            "deep-json", _metadata("history_columns", "[" * 50_000 + "]" * 50_000)
        ),
    ),
    (
        "an .npy whose header claims 10^15 bytes",
        "numpy's allocation error",
        lambda: _array("claims.npy", npy_header((10**15 // 784, 28, 28)), 4096),
    ),
    ("a folder of images 1,100 levels deep", "RecursionError", _deep_image_folder),
    ("--threads 2^64", "OverflowError", lambda: _train(_folder("threads"), "--threads", 2**64)),
    (
        "config data.size = 10^17",
        "RuntimeError (allocation)",
        lambda: _config_file("size.toml", "[data]\nsize = 100000000000000000\n"),
    ),
    (
        'model.family = ""',
        "KeyError ''",
        lambda: _config_file("empty.toml", '[model]\nfamily = ""\n'),
    ),
    (
        'model.family = "vea"',
        "KeyError",
        lambda: _config_file("vea.toml", '[model]\nfamily = "vea"\n'),
    ),
    (
        "a run lock holding pid 10^40 (taken over as stale)",
        "OverflowError",
        lambda: _with_lock("lock-huge-pid", lambda p: p.write_text(f"{10**40}\n"), success=True),
    ),
    ("SIGINT 0.3 s after start", "KeyboardInterrupt", lambda: _signal_at_start(signal.SIGINT)),
    ("SIGTERM 0.3 s after start", "(not measured)", lambda: _signal_at_start(signal.SIGTERM)),
]


def _trickled(part: str) -> Outcome:
    """A mirror that sends its status line (or its headers) a byte every 0.2 s for a minute,
    against a download deadline floor of 1 s."""
    import hashlib
    import socket

    from vae_core.data import downloads

    body = bytes(range(256)) * 40
    remote = downloads.RemoteFile("f.gz", len(body), "sha256", hashlib.sha256(body).hexdigest())
    status, headers = b"HTTP/1.0 200 OK\r\n", b"Content-Length: %d\r\n\r\n" % len(body)
    slow = (status if part == "status" else status + headers) * 20
    listener = socket.create_server(("127.0.0.1", 0))

    def serve():
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            try:
                for byte in slow[:300]:
                    connection.sendall(bytes([byte]))
                    time.sleep(0.2)
            except OSError:
                pass

    threading.Thread(target=serve, daemon=True).start()
    floor, downloads._MIN_DEADLINE_S = downloads._MIN_DEADLINE_S, 1.0
    started = time.monotonic()
    try:
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/"
        folder = _folder(f"trickle-{part}")
        outcome = in_thread(lambda: str(downloads.download(remote, folder, [url])), timeout=90)
    finally:
        downloads._MIN_DEADLINE_S = floor
        listener.close()
    took = time.monotonic() - started
    return Outcome(outcome.held and took < 10, f"{outcome.text} ({took:.1f} s)")


HANGS = [
    (
        "a run lock that is a FIFO",
        "waits forever",
        lambda: _with_lock("lock-fifo", os.mkfifo),
    ),
    (
        "a mirror trickling its status line (deadline floor 1 s)",
        "no deadline before the body",
        lambda: _trickled("status"),
    ),
    (
        "a mirror trickling its headers (deadline floor 1 s)",
        "no deadline before the body",
        lambda: _trickled("headers"),
    ),
]

ACCEPTED = [
    (
        "history of a million columns (evaluate)",
        "accepted",
        lambda: _evaluate_changed("wide-history", _wide_history),
    ),
    (
        "history holding inf (evaluate)",
        "accepted",
        lambda: _evaluate_changed("inf-history", _history_with(float("inf"))),
    ),
    (
        "generator state of 100 bytes (evaluate)",
        "accepted",
        lambda: _evaluate_changed("short-generator", _short_generator),
    ),
    (
        "--max-minutes 1e64",
        "accepted",
        lambda: _train(_folder("minutes"), "--max-minutes", "1e64"),
    ),
    ("a folder of 20,000 classes", "accepted", lambda: _classes(20_000)),
    (
        "conv hidden 10^5, training, with 16 GiB free",
        "accepted, then out of memory",
        lambda: _estimate(
            16, _fits(ModelConfig(arch="conv", hidden=(10**5,), input_shape=(1, 28, 28)))
        ),
    ),
    (
        "MLP of 250,000 units, training, with 8 GiB free",
        "accepted, then out of memory",
        lambda: _estimate(8, _fits(ModelConfig(hidden=(250_000,), input_shape=(1, 28, 28)))),
    ),
    (
        "analyze --k 1000000 of a 250,000-unit MLP, with 16 GiB free",
        "accepted, then out of memory",
        lambda: _estimate(
            16,
            lambda: memory.check_study_fits(
                ModelConfig(hidden=(250_000,), input_shape=(1, 28, 28)), 10_000, torch.device("cpu")
            ),
        ),
    ),
    (
        "gzip IDX of 9 GB zeros, header claiming 3 images",
        "read until memory ran out",
        lambda: _gzip_idx("gzip-bomb-small-claim", (3, 28, 28), 9 * GB),
    ),
    (
        "gzip IDX of 9 GB zeros, header claiming them (11.5 M images)",
        "read until memory ran out",
        lambda: _gzip_idx("gzip-bomb-true-claim", (11_500_000, 28, 28), 9 * GB),
    ),
    ("npz of 9 GB zeros (a true header)", "read until memory ran out", _npz_bomb),
    (
        "a sparse .npy of 12 GB (a true header)",
        "read until memory ran out",
        lambda: _array("sparse.npy", npy_header((12 * GB // 784, 28, 28)), 12 * GB),
    ),
    (
        "a sparse IDX of 12 GB (a true header)",
        "read until memory ran out",
        lambda: _read_sparse_idx(),
    ),
]


def _read_sparse_idx() -> Outcome:
    folder = _folder("sparse-idx")
    path = folder / "train-images-idx3-ubyte"
    write_sparse(path, idx_header((12 * GB // 784, 28, 28)), 12 * GB)
    return in_thread(lambda: _read_idx(path), timeout=60)


RACES = [
    (
        "two writers on a stale lock, 30 times",
        "3 of 60: both got the folder",
        lambda: _two_writers(30),
    ),
    (
        "a lock of a dead pid on another host",
        "taken over by pid alone",
        lambda: _with_lock("lock-other-host", lambda p: p.write_text("999999999 node-17\n")),
    ),
]

SECTIONS = {
    "24: tracebacks": TRACEBACKS,
    "24: window": WINDOW,
    "24: hangs": HANGS,
    "24: accepted although wrong": ACCEPTED,
    "24: races": RACES,
}
