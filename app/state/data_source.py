"""What the data-source dialog shows (Qt-free): one event per field, on the GUI thread."""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from psygnal import evented

from vae_core.config import DataConfig

if TYPE_CHECKING:
    from app.data_source import DataPreview

_FIELDS = ("config", "preview", "loading", "problem", "download", "recent")


# Every assignment is news (a new list of the same configs, say): fields compare by identity.
@evented(equality_operators=dict.fromkeys(_FIELDS, operator.is_))
@dataclass
class DataSourceState:
    config: DataConfig | None = None  # the source asked for last
    preview: DataPreview | None = None  # its preview, once loaded
    loading: bool = False
    problem: str = ""  # why the last source did not load
    download: tuple[int, int] | None = None  # bytes done and in all, while downloading
    recent: list[DataConfig] = field(default_factory=list)
