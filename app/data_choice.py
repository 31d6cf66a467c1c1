"""The data set entry of the settings panel: each entry of its combo carries where and how its
files are read (MNIST from a folder of the user's, images at a size), and a preset's recipe is
put on the source the user chose for its data set rather than on a fresh one."""

from __future__ import annotations

import dataclasses

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox

from app.settings import data_source
from vae_core.config import DataConfig, RunConfig


def chosen_data(combo: QComboBox, base: DataConfig) -> DataConfig:
    """`base` on the combo's current entry, with the files that entry was chosen with."""
    source = combo.currentData() or data_source(DataConfig())
    return dataclasses.replace(base, **{**source, "dataset": combo.currentText()})


def keep_source(combo: QComboBox, config: DataConfig) -> None:
    """The entry of `config`'s data set (added when the combo lacks it) reads its files as
    `config` says."""
    index = combo.findText(config.dataset)
    if index < 0:
        combo.addItem(config.dataset)
        index = combo.count() - 1
    combo.setItemData(index, data_source(config))
    if config.data_dir:
        combo.setItemData(
            index, f"{config.dataset} from {config.data_dir}", Qt.ItemDataRole.ToolTipRole
        )


def on_chosen_source(combo: QComboBox, recipe: RunConfig) -> RunConfig:
    """A preset's `recipe` on the files the user chose for its data set, where the recipe names
    none of its own (mnist-quick on the user's MNIST folder, not a download)."""
    index = combo.findText(recipe.data.dataset)
    chosen = combo.itemData(index) if index >= 0 else None
    if not chosen or recipe.data.data_dir is not None:
        return recipe
    return dataclasses.replace(recipe, data=dataclasses.replace(recipe.data, **chosen))


def other_data_line(preset: str, data: DataConfig, before: DataConfig) -> str:
    """The line that says a preset put another data set in place of the one chosen."""
    line = f"The {preset} preset trains on {data.dataset}, not {before.dataset}"
    if before.data_dir:
        return f"{line} from {before.data_dir} (Open Data Set, Ctrl+D, chooses it again)"
    return line
