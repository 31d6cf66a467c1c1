"""`main.py export`: ONNX graphs that onnxruntime runs to PyTorch's outputs, torch.export programs,
and a Hugging Face-style model folder that loads back bit for bit, evaluates to the same ELBO and
opens in the window like a checkpoint."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open

from vae_core.checkpoint import load_model
from vae_core.cli import main
from vae_core.data import DataConfig, load_data
from vae_core.export.formats import write_programs
from vae_core.export.graphs import TOLERANCE, Graph
from vae_core.export.model_folder import load_pretrained

SMALL = ["--dataset", "glyphs", "--hidden", "16", "--batch-size", "50", "--log-every", "5"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """A run folder per family, trained 10 steps on 600 glyphs."""
    root = tmp_path_factory.mktemp("runs")
    config = root / "small.toml"
    config.write_text("[data]\nsize = 600\n[train]\nheldout_every = 0\n")
    folders = {}
    for family in ("vae", "cvae", "vqvae", "hvae"):
        out = root / family
        command = ["train", "--out", str(out), "--config", str(config), *SMALL, "--model", family]
        assert main([*command, "--max-steps", "10"]) == 0
        folders[family] = out
    return folders


def _test_batch(count: int = 16):
    return load_data(DataConfig(dataset="glyphs", size=600)).test.batch(torch.arange(count))


@pytest.mark.parametrize("family", ["vae", "cvae", "vqvae", "hvae"])
def test_onnx_graphs_give_pytorchs_outputs(runs, family, tmp_path, capsys):
    ort = pytest.importorskip("onnxruntime")
    out = tmp_path / "onnx"
    assert main(["export", str(runs[family]), "--format", "onnx", "--out", str(out)]) == 0
    said = capsys.readouterr().err
    assert said.count("largest difference from PyTorch") == 2
    model, _ = load_model(runs[family] / "checkpoint.safetensors")
    images, labels = _test_batch(5)  # another batch size than the export's
    encoder = ort.InferenceSession(str(out / "encoder.onnx"))
    decoder = ort.InferenceSession(str(out / "decoder.onnx"))
    with torch.no_grad():
        if family == "vqvae":
            indices = model.code_indices(images)
            found = encoder.run(None, {"x": images.numpy()})[0]
            assert np.array_equal(found, indices.numpy())
            expected, feed = model.decode_indices(indices), {"indices": indices.numpy()}
        else:
            y = labels if family == "cvae" else None
            extra = {"y": labels.numpy()} if family == "cvae" else {}
            posterior = model.encode(images, y)
            mean, log_var = encoder.run(None, {"x": images.numpy(), **extra})
            assert np.abs(mean - posterior.mean.numpy()).max() < TOLERANCE
            assert np.abs(log_var - posterior.log_var.numpy()).max() < TOLERANCE
            expected = model.decode_mean(posterior.mean, y)
            feed = {"z": posterior.mean.numpy(), **extra}
    (image,) = decoder.run(None, feed)
    assert image.shape == (5, 1, 28, 28)
    assert np.abs(image - expected.numpy()).max() < TOLERANCE


def test_torch_export_programs_load_and_run(runs, tmp_path):
    out = tmp_path / "programs"
    assert main(["export", str(runs["vae"]), "--format", "torch-export", "--out", str(out)]) == 0
    model, _ = load_model(runs["vae"] / "checkpoint.safetensors")
    decoder = torch.export.load(str(out / "decoder.pt2")).module()
    z = torch.randn(7, 2, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(decoder(z), model.decode_mean(z))


def test_a_graph_that_cannot_be_exported_is_one_line_and_the_others_are_written(tmp_path):
    class DataDependent(torch.nn.Module):
        def forward(self, x):
            return x * 2 if float(x.sum()) > 0 else x  # a branch on a value: no static graph

    graphs = [
        Graph("encoder", DataDependent(), {"x": torch.ones(4, 3)}, ("y",)),
        Graph("decoder", torch.nn.ReLU(), {"z": torch.ones(4, 3)}, ("y",)),
    ]
    said = []
    assert not write_programs(graphs, tmp_path, said.append)
    assert said[0].startswith("encoder.pt2: cannot be exported with torch.export (")
    assert "\n" not in said[0] and len(said[0]) < 300
    assert (tmp_path / "decoder.pt2").exists() and not (tmp_path / "encoder.pt2").exists()


def test_a_missing_onnx_package_is_one_line(runs, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if not installed
    assert main(["export", str(runs["vae"]), "--format", "onnx", "--out", str(tmp_path)]) == 1
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("vae-studio: error: --format onnx needs the package onnxruntime")
    assert "vae-studio[onnx]" in error


def test_the_model_folder_loads_back_bit_for_bit_and_evaluates_alike(runs, tmp_path, capsys):
    out = tmp_path / "model"
    assert main(["export", str(runs["vae"]), "--format", "folder", "--out", str(out)]) == 0
    assert {path.name for path in out.iterdir()} == {
        "model.safetensors",
        "config.json",
        "README.md",
    }
    model, _ = load_model(runs["vae"] / "checkpoint.safetensors")
    loaded = load_pretrained(out)
    for name, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], value)
    with safe_open(str(out / "model.safetensors"), framework="pt") as handle:
        assert set(handle.keys()) == set(model.state_dict())  # weights only, their own names
    capsys.readouterr()
    figures = []
    for source in (runs["vae"], out):
        assert main(["evaluate", str(source), "--limit", "50"]) == 0
        figures.append(json.loads(capsys.readouterr().out))
    assert figures[0]["elbo"] == figures[1]["elbo"]
    card = (out / "README.md").read_text()
    front, _ = card.removeprefix("---\n").split("\n---\n", 1)
    assert "library_name: vae-studio" in front and 'datasets: ["glyphs"]' in front
    assert "K = 1, binarised" in front and "value: -" in front


def test_the_window_opens_a_model_folder_like_a_checkpoint(
    runs, tmp_path, qtbot, shown_window, small_config
):
    out = tmp_path / "model"
    assert main(["export", str(runs["vae"]), "--format", "folder", "--out", str(out)]) == 0
    window = shown_window(small_config)
    with qtbot.waitSignal(window.checkpoints.opened, timeout=10_000) as opened:
        assert window.open_checkpoint(str(out))
    assert opened.args[0].config.model.family == "vae" and opened.args[0].history is None


def test_a_model_folder_dropped_on_the_window_opens(
    runs, tmp_path, qtbot, shown_window, small_config
):
    from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
    from PySide6.QtGui import QDropEvent

    out = tmp_path / "model"
    assert main(["export", str(runs["vae"]), "--format", "folder", "--out", str(out)]) == 0
    window = shown_window(small_config)
    window.controls.latent_dim_spin.setValue(7)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(out))])
    drop = QDropEvent(
        QPointF(10, 10),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
    )
    with qtbot.waitSignal(window.checkpoints.opened, timeout=10_000):
        window.dropEvent(drop)
    trained = json.loads((out / "config.json").read_text())["model"]["latent_dim"]
    assert trained != 7 and window.controls.latent_dim_spin.value() == trained
