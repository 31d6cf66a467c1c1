"""The model card of a model folder: YAML front matter the Hugging Face Hub reads (library, tags,
data set, the evaluated figures) and a page saying what the model is, how it was trained, how it
was evaluated (K and binarisation) and how to load it."""

from __future__ import annotations

import json
from dataclasses import dataclass

from vae_core.config import RunConfig
from vae_core.data import NAMED_DATASETS


@dataclass(frozen=True)
class CardFacts:
    config: RunConfig
    step: int | None  # optimisation steps taken (None: not recorded)
    figures: dict | None  # evaluate's JSON on the test split (None: the data did not load)
    iw_samples: int
    binarized: bool  # Bernoulli likelihood: test images binarised once, from seed 0


def _yaml(value) -> str:
    """A scalar or a flat list in YAML; JSON's strings and numbers are YAML's too."""
    if isinstance(value, list):
        return "[" + ", ".join(json.dumps(item) for item in value) + "]"
    return json.dumps(value)


def _metrics(facts: CardFacts) -> list[tuple[str, str, float]]:
    """(type, name, value) of each figure evaluated, nats per example."""
    figures = facts.figures or {}
    setting = f"K = {facts.iw_samples}, {'binarised' if facts.binarized else 'intensities'}"
    found = [("elbo", f"test ELBO (nats, {setting})", figures.get("elbo"))]
    if facts.iw_samples > 1:
        found.append(
            (
                "log_likelihood",
                f"test IS log-likelihood (nats, {setting})",
                figures.get("log_likelihood_is"),
            )
        )
    return [(kind, name, value) for kind, name, value in found if isinstance(value, float)]


def _front_matter(facts: CardFacts) -> list[str]:
    config = facts.config
    dataset = config.data.dataset
    named = dataset in NAMED_DATASETS
    lines = [
        "---",
        "library_name: vae-studio",
        f"tags: {_yaml(['vae-studio', 'variational-autoencoder', config.model.family, 'pytorch'])}",
    ]
    if named:
        lines.append(f"datasets: {_yaml([dataset])}")
    metrics = _metrics(facts)
    if metrics:
        lines += [
            "model-index:",
            f"- name: {_yaml(f'{config.model.family}-{dataset}')}",
            "  results:",
            "  - task:",
            '      type: "unconditional-image-generation"',
            '      name: "density estimation"',
            "    dataset:",
            f"      name: {_yaml(dataset)}",
            f"      type: {_yaml(dataset)}",
            '      split: "test"',
            "    metrics:",
        ]
        for kind, name, value in metrics:
            lines += [
                f"    - type: {_yaml(kind)}",
                f"      name: {_yaml(name)}",
                f"      value: {value:.4f}",
            ]
    return [*lines, "---"]


def _training(facts: CardFacts) -> list[str]:
    model, train = facts.config.model, facts.config.train
    steps = "an unrecorded number of" if facts.step is None else f"{facts.step:,}"
    return [
        "## Training",
        "",
        f"A `{model.family}` (prior `{model.prior}`, likelihood `{model.likelihood}`, network"
        f" `{model.arch}` with hidden sizes {', '.join(map(str, model.hidden))}, latent size"
        f" {model.latent_dim}), trained for {steps} steps on"
        f" `{facts.config.data.dataset}` with Adam (learning rate {train.lr:g}, {train.lr_schedule}"
        f" schedule), batch size {train.batch_size}, beta {train.beta:g} ({train.beta_schedule}),"
        f" seed {train.seed}. `config.json` holds the whole run config.",
        "",
    ]


def _evaluation(facts: CardFacts) -> list[str]:
    metrics = _metrics(facts)
    if not metrics:
        return ["## Evaluation", "", "Not evaluated: the data set did not load at export.", ""]
    binarisation = (
        "Test images binarised once (seed 0), as `evaluate` does for a Bernoulli likelihood."
        if facts.binarized
        else "Test images as intensities in [0, 1] (no binarisation)."
    )
    rows = [f"| {name} | {value:.4f} |" for _, name, value in metrics]
    examples = (facts.figures or {}).get("examples")
    return [
        "## Evaluation",
        "",
        f"On {examples:,} test examples with K = {facts.iw_samples} importance samples. {binarisation}",
        "",
        "| figure | value |",
        "| --- | --- |",
        *rows,
        "",
    ]


def model_card(facts: CardFacts) -> str:
    config = facts.config
    usage = [
        "## How to load it",
        "",
        "```python",
        "from vae_core.export.model_folder import load_pretrained",
        'model = load_pretrained("THIS_FOLDER")  # a LatentModel: encode, decode_mean, sample',
        "```",
        "",
        "`python main.py evaluate THIS_FOLDER` and `python main.py analyze THIS_FOLDER` take it as",
        "they take a run folder, and the window opens it (File > Open, or drop the folder on it).",
        "`model.safetensors` holds the weights alone, under the model's own parameter names.",
        "",
        "To share it on the Hugging Face Hub (needs `pip install huggingface_hub` and a login):",
        "",
        "```",
        "hf upload USER/MODEL_NAME THIS_FOLDER .",
        "```",
        "",
    ]
    title = f"# VAE Studio {config.model.family} on {config.data.dataset}"
    return "\n".join(
        [*_front_matter(facts), "", title, "", *_training(facts), *_evaluation(facts), *usage, ""]
    )
