"""The Evaluate page's figures as HTML tables: the test set's, and one input's gaps and importance
sampling estimates (no Qt: text in, text out)."""

from __future__ import annotations

import html

from vae_core.evaluation.analysis import AmortizationReport, ImportanceSamplingReport
from vae_core.figures.evaluation import ANALYSIS_REPEATS, ANALYSIS_SAMPLES


def _rows(rows) -> str:
    """HTML rows of (name, value, whether it is a part of the row above)."""
    return "".join(
        f"<tr><td style='padding-left:{14 if part else 0}px'>{html.escape(name)}</td><td align='right'>{value}</td></tr>"
        for name, value, part in rows
    )


def figures_table(results: dict) -> str:
    """The evaluation's figures as an HTML table: nats per example, and the family's own."""
    quantized = "perplexity" in results
    # Bounds and estimates of log p(x) as they are (negative: higher is better); the loss and its
    # terms as nats to minimise, as the curves and the command line's `recon` and `kl` give them.
    nats = [
        (
            "ELBO, uniform code prior" if quantized else "ELBO, a bound on log p(x)",
            results["elbo"],
            False,
        ),
        ("loss = −ELBO", -results["elbo"], False),
        ("reconstruction −E[log p(x|z)]", results["recon"], True),
        ("KL(q(z|x) ‖ p(z))", results["kl"], True),
    ]
    if "log_likelihood_is" in results:
        nats.append(
            (f"IS log p(x), K = {results['iw_samples']:,}", results["log_likelihood_is"], False)
        )
        nats.append(("IS − ELBO", results["log_likelihood_is"] - results["elbo"], True))
    if "exact_log_likelihood" in results:
        nats.append(("exact log p(x)", results["exact_log_likelihood"], False))
    if "code_prior_nll" in results:
        nats.append(
            ("ELBO with its code prior", -results["recon"] - results["code_prior_nll"], False)
        )
    rows = [(name, f"{value:,.2f}", part) for name, value, part in nats]
    rows.append(
        ("active units", f"{results['active_units']} of {len(results['kl_per_dim'])}", False)
    )
    if quantized:
        rows.append(
            ("perplexity", f"{results['perplexity']:.1f} of {results['codebook_size']}", False)
        )
        rows.append(("codes used", f"{100 * results['codebook_usage']:.0f}%", False))
    if "mig" in results:
        rows.append(("MIG", f"{results['mig']:.3f}", False))
    table = (
        f"<table cellspacing='2'>{_rows(rows)}</table>"
        "<p style='color:gray'>nats per example; log p(x) and its bounds: higher is better; losses: lower is better</p>"
    )
    per_class = results.get("elbo_per_class")
    if per_class:
        listed = ", ".join(f"{html.escape(name)} {value:.1f}" for name, value in per_class.items())
        table += f"<p>ELBO per class: {listed}</p>"
    return table


def analysis_table(gaps: AmortizationReport, study: ImportanceSamplingReport) -> str:
    """One input's ELBOs and gaps, then its IS estimates with either proposal at each K."""
    reference = (
        "exact log p(x)"
        if gaps.exact_log_likelihood is not None
        else f"IS log p(x), K = {gaps.iw_samples:,}"
    )
    rows = [
        ("ELBO, the encoder's q(z|x)", gaps.amortized_elbo, False),
        ("ELBO, q fitted to this input", gaps.optimized_elbo, False),
        ("amortization gap", gaps.amortization_gap, True),
        (
            reference,
            gaps.log_likelihood if gaps.exact_log_likelihood is None else gaps.exact_log_likelihood,
            False,
        ),
        ("approximation gap", gaps.approximation_gap, True),
    ]
    table = f"<table cellspacing='2'>{_rows((name, f'{value:,.2f}', part) for name, value, part in rows)}</table>"
    by_proposal = {(estimate.proposal, estimate.samples): estimate for estimate in study.estimates}
    cells = "".join(
        f"<tr><td align='right'>{samples:,}</td>"
        + "".join(
            f"<td align='right' nowrap>{_short(by_proposal[proposal, samples].log_likelihood)}"
            f" ± {_short(by_proposal[proposal, samples].spread)}</td>"
            f"<td align='right'>{_short(by_proposal[proposal, samples].effective_sample_size)}</td>"
            for proposal in ("prior", "posterior")
        )
        + "</tr>"
        for samples in ANALYSIS_SAMPLES
    )
    return (
        table
        + f"<p>log p(x) by importance sampling: mean ± sd of {ANALYSIS_REPEATS} estimates, and the effective"
        " sample size (ESS), with z drawn from the prior and from q(z|x):</p>"
        + "<table cellspacing='5'><tr><th>K</th><th>z ~ p(z)</th><th>ESS</th><th>z ~ q(z|x)</th><th>ESS</th></tr>"
        + cells
        + "</table>"
    )


def _short(value: float) -> str:
    """One decimal below a hundred, none above: the table stays narrow."""
    return f"{value:,.1f}" if abs(value) < 100 else f"{value:,.0f}"
