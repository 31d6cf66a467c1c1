"""The command line's flags for the field's exchange formats and cluster conventions: `train
--resume auto`, `--requeue-signal`, `--tensorboard`, and the `export` command."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from vae_core.export import FORMATS as EXPORT_FORMATS
from vae_core.requeue import DEFAULT_REQUEUE_SIGNAL, REQUEUE_SIGNALS, requeue_exit_code


def resume_mode(text: str) -> str:
    """`--resume auto`; a bare `--resume` is True (argparse's const)."""
    if text != "auto":
        raise argparse.ArgumentTypeError(f"expected 'auto' or nothing, got '{text}'")
    return text


def add_exchange_flags(train: argparse.ArgumentParser) -> None:
    default_code = requeue_exit_code(REQUEUE_SIGNALS[DEFAULT_REQUEUE_SIGNAL])
    train.add_argument(
        "--requeue-signal",
        choices=sorted(REQUEUE_SIGNALS),
        default=DEFAULT_REQUEUE_SIGNAL,
        help="the signal a cluster sends before its time limit: save, run `scontrol requeue"
        f" $SLURM_JOB_ID` where it is set, and exit 128 + its number (default"
        f" {DEFAULT_REQUEUE_SIGNAL}: {default_code})",
    )
    train.add_argument(
        "--tensorboard",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="write TensorBoard event files into RUN_DIR/tensorboard (needs the tensorboard extra)",
    )


def add_export_command(
    commands, folder_name: Callable[[str], Path], count: Callable[[str], int]
) -> None:
    """`export RUN_DIR --format F --out DIR`; `folder_name` and `count` check those values."""
    export = commands.add_parser(
        "export",
        help="write a trained model as ONNX, torch.export programs or a Hugging Face-style folder",
    )
    export.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    export.add_argument(
        "--format",
        required=True,
        choices=EXPORT_FORMATS,
        help="onnx: encoder.onnx and decoder.onnx; torch-export: the same as .pt2 programs;"
        " folder: model.safetensors, config.json and a model card (README.md)",
    )
    export.add_argument("--out", required=True, type=folder_name, metavar="DIR")
    export.add_argument(
        "--iw-samples",
        type=count,
        default=1,
        metavar="K",
        help="folder: the model card's figures use K importance samples (default 1: the ELBO)",
    )
    export.add_argument(
        "--limit", type=count, metavar="N", help="folder: evaluate the first N test examples"
    )
    export.add_argument(
        "--data-dir", metavar="DIR", help="where the data set's files are, if moved"
    )
