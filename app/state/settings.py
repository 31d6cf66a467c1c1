"""The settings panel's values (Qt-free): one field, `values`, the panel's value of each setting
by name, replaced whole at each change, so that one event says what changed and from what (the
undo stack of settings is fed from it)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from psygnal import evented


@evented
@dataclass
class SettingsState:
    values: Mapping[str, object] = field(default_factory=dict)
