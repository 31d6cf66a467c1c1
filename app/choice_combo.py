"""A combo box of registry names shown in words: "VampPrior" on screen, `vamp` in the config."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import QComboBox

from app.naming import named

NAME_ROLE = Qt.ItemDataRole.UserRole


class _NamesFirstModel(QStandardItemModel):
    """Items that a search by text also finds by registry name, so that `findText("vamp")` and
    `setCurrentText("vamp")` (what scripts and tests written against the names call) select the
    item that reads "VampPrior"."""

    def match(
        self, start: QModelIndex, role, value, hits: int = 1, flags=Qt.MatchFlag.MatchExactly
    ):
        if role == Qt.ItemDataRole.DisplayRole:
            by_name = super().match(start, NAME_ROLE, value, hits, flags)
            if by_name:
                return by_name
        return super().match(start, role, value, hits, flags)


class ChoiceCombo(QComboBox):
    """Each item shows a readable text, explains itself in its tooltip and carries its registry
    name as item data; `name()` and `select()` speak registry names."""

    def __init__(
        self,
        object_name: str,
        accessible_name: str,
        purpose: str,
        names: Iterable[str],
        words: Mapping[str, tuple[str, str]],
    ):
        super().__init__()
        named(self, object_name, accessible_name)
        self.setModel(_NamesFirstModel(self))
        self.purpose = purpose
        self._words = words
        self._unused_reason = ""
        for name in names:
            self._add(name)
        self.currentIndexChanged.connect(self._explain_current)
        self._explain_current()

    def _add(self, name: str) -> int:
        text, explanation = self._words.get(name, (name, ""))
        self.addItem(text, name)
        index = self.count() - 1
        if explanation:
            self.setItemData(index, explanation, Qt.ItemDataRole.ToolTipRole)
        return index

    def name(self) -> str:
        return self.currentData(NAME_ROLE) or ""

    def names(self) -> list[str]:
        return [self.itemData(index, NAME_ROLE) for index in range(self.count())]

    def select(self, name: str) -> None:
        """Select the item of registry name `name`, adding it when the registry does not list it
        (a family from a newer checkpoint, say)."""
        index = self.findData(name, NAME_ROLE)
        self.setCurrentIndex(index if index >= 0 else self._add(name))

    def explanation(self) -> str:
        """What the current choice does, in the theory's words."""
        return self.itemData(self.currentIndex(), Qt.ItemDataRole.ToolTipRole) or ""

    def set_unused_reason(self, reason: str) -> None:
        """Why the choice does not apply to the model as set up ("" when it does); the tooltip says it."""
        self._unused_reason = reason
        self._explain_current()

    def _explain_current(self, *_) -> None:
        explanation = self.explanation()
        tip = (
            f"{self.purpose}\n\n{self.currentText()}: {explanation}"
            if explanation
            else self.purpose
        )
        self.setToolTip(with_reason(tip, self._unused_reason))


def with_reason(tip: str, unused_reason: str) -> str:
    return f"{tip}\n\nNot used now: {unused_reason}" if unused_reason else tip
