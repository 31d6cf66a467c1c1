"""Where the window keeps its settings between sessions: an INI file in the user's config folder.

The INI format is used on every platform so that one `QSettings.setPath` call (the tests' autouse
fixture) redirects it.
"""

from __future__ import annotations

import json

from PySide6.QtCore import QSettings

from vae_core.config import ConfigError, DataConfig, RunConfig

ORGANIZATION = "VAE Studio"
APPLICATION = "VAE Studio"
_LAST_CONFIG = "run/lastConfig"
_RECENT_DATA = "data/recent"
RECENT_DATA_COUNT = 8
# Where a data set's files are and how they are read; the rest of a DataConfig (size, seed,
# split) belongs to the run.
DATA_SOURCE_FIELDS = ("dataset", "data_dir", "image_size", "color")


def open_settings() -> QSettings:
    return QSettings(
        QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION, APPLICATION
    )


def last_config(settings: QSettings) -> RunConfig | None:
    """The configuration of the last run started, or None (never stored, or no longer valid)."""
    text = settings.value(_LAST_CONFIG)
    if not isinstance(text, str):
        return None
    try:
        return RunConfig.from_json(text)
    except ConfigError:
        return None


def store_config(settings: QSettings, config: RunConfig) -> None:
    settings.setValue(_LAST_CONFIG, config.to_json())


def data_source(config: DataConfig) -> dict:
    return {name: getattr(config, name) for name in DATA_SOURCE_FIELDS}


def recent_data_sets(settings: QSettings) -> list[DataConfig]:
    """The user's own data sets that loaded lately, newest first (entries no longer valid left out)."""
    try:
        entries = json.loads(settings.value(_RECENT_DATA, "[]"))
    except (TypeError, ValueError):
        return []
    recent = []
    for entry in entries if isinstance(entries, list) else []:
        try:
            recent.append(RunConfig.from_dict({"data": entry}).data)
        except (ConfigError, TypeError):
            continue
    return recent


def _store_recent(settings: QSettings, configs: list[DataConfig]) -> None:
    settings.setValue(
        _RECENT_DATA, json.dumps([data_source(config) for config in configs[:RECENT_DATA_COUNT]])
    )


def remember_data_set(settings: QSettings, config: DataConfig) -> None:
    source = data_source(config)
    _store_recent(
        settings, [config, *(c for c in recent_data_sets(settings) if data_source(c) != source)]
    )


def forget_data_set(settings: QSettings, config: DataConfig) -> None:
    source = data_source(config)
    _store_recent(settings, [c for c in recent_data_sets(settings) if data_source(c) != source])
