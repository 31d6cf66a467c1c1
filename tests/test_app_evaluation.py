"""The Evaluate page: the model on show scored on its test split, off the GUI thread."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from PySide6.QtWidgets import QPushButton

from vae_core.config import DataConfig, ModelConfig, RunConfig, TrainConfig

SIGNAL_TIMEOUT_MS = 15_000


def _config(family: str = "vae") -> RunConfig:
    return RunConfig(
        data=DataConfig(dataset="glyphs", size=600),
        model=ModelConfig(family=family, hidden=(32,), latent_dim=2, codebook_size=16),
        train=TrainConfig(batch_size=50, max_steps=30, seed=0, device="cpu"),
    )


def _train_to_the_end(qtbot, window) -> None:
    with qtbot.waitSignal(
        window.runs.runEnded, timeout=SIGNAL_TIMEOUT_MS, check_params_cb=lambda r: r == "finished"
    ):
        window.findChild(QPushButton, "trainButton").click()


def _evaluate(qtbot, window, examples: int = 100, samples: int = 20) -> dict:
    page = window.evaluation
    window.view_tabs.setCurrentWidget(page)
    page.examples_spin.setValue(examples)
    page.samples_spin.setValue(samples)
    with qtbot.waitSignal(page.evaluated, timeout=SIGNAL_TIMEOUT_MS) as evaluated:
        window.findChild(QPushButton, "evaluateButton").click()
        assert page.busy  # the work is on another thread: the click returns at once
    return evaluated.args[0]


def test_evaluating_a_trained_model_plots_the_estimate_against_the_samples(qtbot, shown_window):
    window = shown_window(_config())
    _train_to_the_end(qtbot, window)
    results = _evaluate(qtbot, window)
    assert results["examples"] == 100
    assert list(results["log_likelihood_is_by_samples"]) == [1, 2, 5, 10, 20]
    assert results["log_likelihood_is"] > results["elbo"]
    assert window.evaluation.plot_stack.currentWidget() is window.evaluation.plot
    x, y = window.evaluation.is_curve.getData()
    assert len(x) == 5 and torch.allclose(
        torch.tensor(y),
        torch.tensor(list(results["log_likelihood_is_by_samples"].values())).double(),
    )
    assert "step 30" in window.evaluation.status.text() and not window.evaluation.busy
    figures = window.evaluation.figures.text()
    assert "ELBO" in figures and "K = 20" in figures and "active units" in figures
    # No exact log p(x) for this model: the legend names only the lines drawn.
    assert _legend_names(window) == ["IS estimate of log p(x)", "ELBO"]

    # The page scores the weights of the run's last snapshot, which the run's own model has too.
    from vae_core.evaluation.estimates import evaluate_model
    from vae_core.models import build_model

    model = build_model(window.state.run.config.model)
    model.load_state_dict(window.state.run.latest.model_state)
    test_data = window.state.shown.model.test_data
    expected = evaluate_model(model, test_data, iw_samples=20, limit=100, batch_size=100)
    # (to rounding: the page computes on its own thread, with its own thread count)
    assert results["elbo"] == pytest.approx(expected["elbo"], rel=1e-5)
    assert results["log_likelihood_is"] == pytest.approx(expected["log_likelihood_is"], rel=1e-5)


def _legend_names(window) -> list[str]:
    return [label.text for _, label in window.evaluation.legend.items]


def test_the_exact_log_likelihood_is_named_where_its_line_is_drawn(qtbot, shown_window):
    config = _config()
    linear = dataclasses.replace(config.model, arch="linear", likelihood="gaussian")
    window = shown_window(dataclasses.replace(config, model=linear))
    _train_to_the_end(qtbot, window)
    results = _evaluate(qtbot, window, examples=50, samples=5)
    assert "exact_log_likelihood" in results
    assert _legend_names(window) == ["IS estimate of log p(x)", "ELBO", "exact log p(x)"]
    assert len(window.evaluation.exact_line.getData()[0]) == 2


def test_a_vq_vae_is_evaluated_without_importance_sampling(qtbot, shown_window):
    window = shown_window(_config("vqvae"))
    _train_to_the_end(qtbot, window)
    results = _evaluate(qtbot, window)
    assert "log_likelihood_is" not in results and 0 < results["perplexity"] <= 16
    page = window.evaluation
    assert (
        page.plot_stack.currentWidget() is page.plot_message
        and "deterministic" in page.plot_message.text()
    )
    assert "perplexity" in window.evaluation.figures.text()


def test_evaluate_without_a_model_says_so_and_a_new_run_clears_the_results(qtbot, shown_window):
    window = shown_window(_config())
    with qtbot.waitSignal(window.errorShown) as shown:
        window.findChild(QPushButton, "evaluateButton").click()
    assert "no model to evaluate" in shown.args[0]
    _train_to_the_end(qtbot, window)
    _evaluate(qtbot, window)
    window.controls.apply_config(
        dataclasses.replace(_config(), train=dataclasses.replace(_config().train, max_steps=40))
    )
    _train_to_the_end(qtbot, window)
    assert window.evaluation.results is None and window.evaluation.figures.text() == ""


def _analyze(qtbot, window):
    page = window.evaluation
    with qtbot.waitSignal(page.analyzed, timeout=SIGNAL_TIMEOUT_MS) as analyzed:
        window.findChild(QPushButton, "analyzeButton").click()
    return analyzed.args[0]


def test_the_selected_input_is_analyzed_for_its_two_gaps(qtbot, shown_window):
    window = shown_window(_config())
    _train_to_the_end(qtbot, window)
    with qtbot.waitSignal(window.errorShown) as shown:
        window.findChild(QPushButton, "analyzeButton").click()
    assert "click a point on the latent map" in shown.args[0]
    window.explorer.select(3)
    gaps, study = _analyze(qtbot, window)
    # A q fitted to one input does at least as well as the encoder's, to Monte Carlo noise.
    assert gaps.optimized_elbo > gaps.amortized_elbo - 0.1
    assert {(e.proposal, e.samples) for e in study.estimates} == {
        (p, k) for p in ("prior", "posterior") for k in (1, 10, 100, 1000)
    }
    text = window.evaluation.analysis_figures.text()
    assert "amortization gap" in text and "approximation gap" in text and "z ~ q(z|x)" in text
    assert "selected input under the model at step 30" in window.evaluation.analysis_status.text()


def test_a_vq_vae_input_has_no_gaps_to_analyze(qtbot, shown_window):
    window = shown_window(_config("vqvae"))
    _train_to_the_end(qtbot, window)
    window.explorer.select(0)
    window.findChild(QPushButton, "analyzeButton").click()
    assert (
        "deterministic" in window.evaluation.analysis_status.text() and not window.evaluation.busy
    )


def test_closing_the_window_stops_an_evaluation_in_progress(qtbot, shown_window):
    window = shown_window(_config())
    _train_to_the_end(qtbot, window)
    window.evaluation.samples_spin.setValue(10_000)  # seconds of work, far more than the join waits
    window.findChild(QPushButton, "evaluateButton").click()
    assert window.evaluation.busy
    window.close()
    assert window.model_jobs.under_way() == 0
