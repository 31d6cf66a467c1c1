"""`main.py export RUN_DIR --format onnx|torch-export|folder --out DIR`: a trained model in the
field's exchange formats (see formats, graphs and model_folder)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import torch

from vae_core.data import ImageDataset, load_data
from vae_core.errors import VaeStudioError
from vae_core.evaluation.estimates import evaluate_model
from vae_core.export.formats import write_onnx, write_programs
from vae_core.export.graphs import model_graphs
from vae_core.export.model_card import CardFacts, model_card
from vae_core.export.model_folder import open_model, write_model_folder

FORMATS = ("onnx", "torch-export", "folder")
EXAMPLE_COUNT = 16  # test inputs each exported graph is checked on


def _test_data(config, data_dir: str | None, say: Callable[[str], None]) -> ImageDataset | None:
    """The run's test split, or None (said in one line) when it does not load or no longer fits."""
    data_config = (
        config.data if data_dir is None else dataclasses.replace(config.data, data_dir=data_dir)
    )
    try:
        test = load_data(data_config).test
    except VaeStudioError as error:
        say(f"note: the run's data did not load ({error})")
        return None
    if tuple(test.image_shape) != tuple(config.model.input_shape):
        say("note: the run's data set no longer holds the examples the model was trained on")
        return None
    return test


def _examples(test: ImageDataset | None, config, say) -> tuple[torch.Tensor, torch.Tensor]:
    if test is not None:
        return test.batch(torch.arange(min(EXAMPLE_COUNT, len(test))))
    say(f"note: the exported graphs are checked on {EXAMPLE_COUNT} random images instead")
    generator = torch.Generator().manual_seed(0)
    images = torch.rand((EXAMPLE_COUNT, *config.model.input_shape), generator=generator)
    labels = torch.randint(max(1, config.model.num_classes), (EXAMPLE_COUNT,), generator=generator)
    return images, labels


def export_run(
    source: Path,
    kind: str,
    out: Path,
    say: Callable[[str], None],
    iw_samples: int = 1,
    limit: int | None = None,
    data_dir: str | None = None,
) -> bool:
    """Write the model of `source` (a run folder, checkpoint or model folder) into `out` in the
    format `kind`; whether everything was written and checked (what was not is said)."""
    model, checkpoint = open_model(source)
    config = checkpoint.config
    test = _test_data(config, data_dir, say)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise VaeStudioError(f"cannot write {out}: {error.strerror or error}") from None
    if kind == "folder":
        figures = None if test is None else evaluate_model(model, test, iw_samples, limit)
        step = int(checkpoint.counters["step"]) if "step" in checkpoint.counters else None
        binarized = bool(model.likelihood.binarizes_data)
        card = model_card(CardFacts(config, step, figures, iw_samples, binarized))
        write_model_folder(out, config, model, card)
        say(f"wrote {out}: model.safetensors, config.json, README.md")
        return True
    graphs = model_graphs(model, *_examples(test, config, say))
    write = write_onnx if kind == "onnx" else write_programs
    return write(graphs, out, say)
