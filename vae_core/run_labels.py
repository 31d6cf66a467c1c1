"""Run labels: the one function that names runs shown together (the Runs list, the
rate-distortion plane, Compare runs, a class's leaderboard) by whose they are and by what sets
their configs apart ("ana · β 4, latent 8"), never by settings every run shares or by how long and
where a run went (a window's "until stopped" budget of 10^12 steps is no difference of the model).
Pure: configs in, text out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

from vae_core.config import RunConfig

# Not what sets runs apart. Filled in from the data by a run (they follow data.dataset); where
# the data comes from; the random seeds (a class's students each pick one: runs alike but for
# their seeds are told apart by name); how long a run goes and on what (the step axis and the
# folder say that); how often it reports and what else it writes.
NOT_COMPARED = frozenset(
    {
        "model.input_shape",
        "model.num_classes",
        "data.data_dir",
        "data.mirrors",
        "data.seed",
        "train.seed",
        "train.epochs",
        "train.max_steps",
        "train.max_minutes",
        "train.device",
        "train.threads",
        "train.compile",
        "train.log_every",
        "train.heldout_every",
        "train.tensorboard",
    }
)
# Keys shown in a label by a symbol or a shorter word; others by their last part.
SHORT_NAMES = {
    "train.beta": "β",
    "model.family": "",
    "data.dataset": "",
    "model.latent_dim": "latent",
    "model.hidden": "hidden",
    "train.lr": "lr",
    "train.beta_schedule": "β schedule",
}
STUDENT_SEPARATOR = " · "
SETTING_SEPARATOR = ", "


def flat_config(config: RunConfig) -> dict[str, object]:
    """The config as dotted keys ("model.family") and plain values, in the dataclasses' order (read
    field by field: a class's labels are made from tens of configs at once)."""
    flat = {}
    for section in fields(config):
        values = getattr(config, section.name)
        for key in fields(values):
            value = getattr(values, key.name)
            flat[f"{section.name}.{key.name}"] = tuple(value) if isinstance(value, list) else value
    return flat


def config_differences(configs: Sequence[RunConfig]) -> list[str]:
    """The dotted keys whose values are not the same in all of `configs` (a key set in some and
    not others differs), in the configs' own order."""
    flats = [flat_config(config) for config in configs]
    keys = list(dict.fromkeys(key for flat in flats for key in flat))
    return [
        key
        for key in keys
        if key not in NOT_COMPARED and len({repr(flat.get(key)) for flat in flats}) > 1
    ]


def format_value(value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple):
        return "-".join(format_value(item) for item in value)
    return str(value)


def describe_setting(key: str, value: object) -> str:
    """One key's value in a label: "β 4", "prior vamp", "hidden 64-32", "mnist"."""
    name = SHORT_NAMES.get(key, key.rsplit(".", 1)[-1].replace("_", " "))
    return f"{name} {format_value(value)}".strip()


def legend_texts(configs: Sequence[RunConfig | None]) -> list[str]:
    """Each config's values of the keys that differ among them ("β 4, latent 8"); "" where there
    is no config, or nothing differs."""
    keys = config_differences([config for config in configs if config is not None])
    texts = []
    for config in configs:
        flat = {} if config is None else flat_config(config)
        texts.append(
            SETTING_SEPARATOR.join(describe_setting(key, flat.get(key)) for key in keys)
            if config is not None
            else ""
        )
    return texts


def settings_apart_from(config: RunConfig, reference: RunConfig) -> list[str]:
    """`key = value` lines for what `config` sets otherwise than `reference` (a tooltip's summary)."""
    flat = flat_config(config)
    return [
        f"{key} = {format_value(flat.get(key))}" for key in config_differences([reference, config])
    ]


@dataclass(frozen=True)
class LabelledRun:
    """What a label is made of: the run's name, its config (None: unknown) and its student (""
    for a run of one's own)."""

    name: str
    config: RunConfig | None
    student: str = ""


def run_labels(runs: Sequence[LabelledRun]) -> list[str]:
    """The label of each of `runs` shown together: its student and what differs among them
    ("ana · β 4, latent 8"), else its name; runs that would read alike are told apart by name."""
    return labels_and_differences(runs)[0]


def labels_and_differences(runs: Sequence[LabelledRun]) -> tuple[list[str], list[str]]:
    """`run_labels`, and what differs alone ("β 4, latent 8"), from one comparison."""
    differences = legend_texts([run.config for run in runs])
    texts = [
        STUDENT_SEPARATOR.join(part for part in (run.student, differs) if part) or run.name
        for run, differs in zip(runs, differences)
    ]
    labels = [
        f"{text} ({run.name})" if texts.count(text) > 1 else text for text, run in zip(texts, runs)
    ]
    return labels, differences
