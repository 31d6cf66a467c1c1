"""The graph formats: ONNX files (through `torch.onnx.export(..., dynamo=True)`, each checked with
onnxruntime against PyTorch) and torch.export programs (`.pt2`, checked after loading back).

Each graph is written whole or not at all; one that cannot be exported is one line saying why,
and the others are still written."""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from collections.abc import Callable
from pathlib import Path

import torch

from vae_core.errors import VaeStudioError
from vae_core.export.graphs import TOLERANCE, Graph, largest_difference
from vae_core.files import write_atomically

ONNX_EXTRA = "pip install 'vae-studio[onnx]' (onnx, onnxscript, onnxruntime)"


def _require_onnx():
    try:
        import onnxruntime
        import onnxscript  # noqa: F401  (the dynamo exporter's translator)
    except ImportError as error:
        raise VaeStudioError(
            f"--format onnx needs the package {error.name}, which is not installed: {ONNX_EXTRA}"
        ) from None
    return onnxruntime


def _reason(error: Exception) -> str:
    """The first line of an exporter's error (they run to pages), at most 200 characters."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return (lines[0] if lines else type(error).__name__)[:200]


@contextlib.contextmanager
def _quiet():
    """The exporter's progress lines and warnings stay off the user's terminal."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with (
            warnings.catch_warnings(),
            contextlib.redirect_stdout(io.StringIO()),
            contextlib.redirect_stderr(io.StringIO()),
        ):
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def _check(graph: Graph, path: Path, run: Callable[[dict], list], say) -> bool:
    """The exported graph against PyTorch on the example inputs and on fewer of them (the batch
    size is free); whether it is within TOLERANCE."""
    fewer = {name: value[:3] for name, value in graph.inputs.items()}
    difference = 0.0
    for inputs in (graph.inputs, fewer):
        reference = Graph(graph.name, graph.module, inputs, graph.outputs).reference()
        try:
            found = run(inputs)
        except Exception as error:  # the runtimes' errors have no common type
            say(
                f"{path}: written, but it does not run on {len(reference[0])} inputs ({_reason(error)})"
            )
            return False
        difference = max(difference, largest_difference(found, reference))
    count = len(next(iter(graph.inputs.values())))
    say(f"{path}: largest difference from PyTorch {difference:.2g} on {count} test inputs")
    if difference > TOLERANCE:
        say(f"{path}: differs from PyTorch by more than {TOLERANCE:g}: do not trust it")
        return False
    return True


def _export_onnx_graph(graph: Graph, path: Path, runtime) -> None:
    def write(temporary: str) -> None:
        with _quiet():
            torch.onnx.export(
                graph.module,
                tuple(graph.inputs.values()),
                temporary,
                dynamo=True,
                input_names=list(graph.inputs),
                output_names=list(graph.outputs),
                dynamic_shapes=graph.dynamic_shapes(),
                external_data=False,
            )

    write_atomically(path, write)


def write_onnx(graphs: list[Graph], out: Path, say: Callable[[str], None]) -> bool:
    """`<name>.onnx` for each graph; whether every one was written and checked."""
    runtime = _require_onnx()
    fine = True
    for graph in graphs:
        path = out / f"{graph.name}.onnx"
        try:
            _export_onnx_graph(graph, path, runtime)
            session = runtime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        except Exception as error:  # the exporter's errors have no common type
            say(f"{path.name}: cannot be exported to ONNX ({_reason(error)})")
            fine = False
            continue

        def run(inputs: dict, session=session) -> list:
            return session.run(None, {name: value.numpy() for name, value in inputs.items()})

        fine = _check(graph, path, run, say) and fine
    return fine


def write_programs(graphs: list[Graph], out: Path, say: Callable[[str], None]) -> bool:
    """`<name>.pt2` (torch.export programs) for each graph; whether every one was written."""
    fine = True
    for graph in graphs:
        path = out / f"{graph.name}.pt2"
        try:
            archive = io.BytesIO()
            with _quiet():
                program = torch.export.export(
                    graph.module,
                    tuple(graph.inputs.values()),
                    dynamic_shapes=graph.dynamic_shapes(),
                )
                torch.export.save(program, archive)
            data = archive.getvalue()
            write_atomically(path, lambda temporary, data=data: Path(temporary).write_bytes(data))
            loaded = torch.export.load(str(path)).module()
        except Exception as error:  # torch.export's errors have no common type
            say(f"{path.name}: cannot be exported with torch.export ({_reason(error)})")
            fine = False
            continue

        def run(inputs: dict, loaded=loaded) -> list:
            with torch.no_grad():
                produced = loaded(*inputs.values())
            return list(produced) if isinstance(produced, tuple) else [produced]

        fine = _check(graph, path, run, say) and fine
    return fine
