"""Where the window keeps its settings between sessions: an INI file in the user's config folder.

The INI format is used on every platform so that one `QSettings.setPath` call (the tests' autouse
fixture) redirects it.
"""

from __future__ import annotations

from PySide6.QtCore import QSettings

from vae_core.config import ConfigError, RunConfig

ORGANIZATION = "VAE Studio"
APPLICATION = "VAE Studio"
_LAST_CONFIG = "run/lastConfig"


def open_settings() -> QSettings:
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION, APPLICATION)


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
