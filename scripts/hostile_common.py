"""What the hostile-input cases share: the workspace of files they start from, and how an
outcome is measured (a command line in a fresh interpreter, or a core call in this one)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from safetensors import safe_open
from safetensors.torch import save_file

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vae_core.errors import VaeStudioError  # noqa: E402

HUGE = 1_000_000_000
ENVIRONMENT = {**os.environ, "OMP_NUM_THREADS": "1"}


@dataclass(frozen=True)
class Outcome:
    held: bool
    text: str


class Workspace:
    """The files the cases need, written into one temporary folder."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.images = folder / "images28.npy"
        np.save(
            self.images, np.random.default_rng(0).integers(0, 256, (60, 28, 28), dtype=np.uint8)
        )
        self.small = self.write(
            "small.toml", "[model]\nhidden = [16]\n[train]\nbatch_size = 20\nheldout_every = 0\n"
        )
        self.run_folder = folder / "run"
        trained = cli(
            "train",
            "--out",
            self.run_folder,
            "--dataset",
            f"npy:{self.images}",
            "--config",
            self.small,
            "--max-steps",
            2,
            success=True,
        )
        if not trained.held:
            raise SystemExit(f"the base run did not train: {trained.text}")

    def write(self, name: str, text: str) -> Path:
        path = self.folder / name
        path.write_text(text)
        return path

    def shorten(self, text: str) -> str:
        return text.replace(str(self.folder), "…")

    def changed_run(self, name: str, change: Callable[[dict, dict], None]) -> Path:
        """A copy of the base run whose checkpoint `change(tensors, metadata)` edited."""
        folder = self.folder / name
        shutil.copytree(self.run_folder, folder)
        path = folder / "checkpoint.safetensors"
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata()
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}
        change(tensors, metadata)
        save_file(tensors, str(path), metadata=metadata)
        return folder


WORKSPACE: Workspace | None = None  # set by hostile_inputs.main before any case runs


def cli(
    *arguments,
    timeout: float = 120,
    success: bool = False,
    prefix: tuple[str, ...] = (),
    cwd: Path = ROOT,
) -> Outcome:
    """`main.py ARGUMENTS` in a fresh interpreter; held when it fails in one line (or, with
    `success`, when it succeeds), with no traceback."""
    command = [*prefix, sys.executable, str(ROOT / "main.py"), *map(str, arguments)]
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, env=ENVIRONMENT, cwd=cwd
        )
    except subprocess.TimeoutExpired:
        return Outcome(False, f"still running after {timeout:.0f} s")
    lines = result.stderr.strip().splitlines()
    last = lines[-1] if lines else ""
    if "Traceback" in result.stderr:
        return Outcome(False, f"traceback: {_cut(last)}")
    if success:
        notes = "; ".join(line for line in lines if line.startswith("note:"))
        return Outcome(
            result.returncode == 0,
            f"exit {result.returncode}" + (f", {_cut(notes)}" if notes else ""),
        )
    errors = [line for line in lines if line.startswith("vae-studio")]
    held = result.returncode != 0 and len(errors) == 1 and errors[0] == last
    return Outcome(held, f"exit {result.returncode}: {_cut(last)}")


def _cut(text: str, length: int = 150) -> str:
    text = WORKSPACE.shorten(text) if WORKSPACE is not None else text
    return text if len(text) <= length else text[: length - 1] + "…"


def in_process(call: Callable[[], str]) -> Outcome:
    """A core call: held when it returns (its result described) or raises one line of VaeStudioError."""
    try:
        return Outcome(True, call())
    except VaeStudioError as error:
        return Outcome("\n" not in str(error), f"VaeStudioError: {_cut(str(error))}")
