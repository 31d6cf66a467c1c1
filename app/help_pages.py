"""Help > What am I looking at?: a short page per view in plain words, opened at the view on show.

The pages are Markdown files shipped inside the package (app/help/*.md); each starts with a
"# Title" line that names it in the list of topics.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QTabWidget,
    QTextBrowser,
    QWidget,
)

from app.markdown_text import with_literal_tildes
from app.naming import named

# Topics in the order of the list: the map first, then the tabs below it.
TOPICS = (
    "latent_map",
    "curves",
    "kl_per_dim",
    "reconstructions",
    "samples",
    "interpolation",
    "traversals",
    "codebook",
    "draw",
    "elbo_identity",
    "gradient_estimators",
    "aggregate_posterior",
    "rate_distortion",
    "compare_runs",
    "evaluate",
)


def help_text(topic: str) -> str:
    return (resources.files("app") / "help" / f"{topic}.md").read_text(encoding="utf-8")


def help_title(text: str) -> str:
    return text.splitlines()[0].lstrip("# ").strip()


class HelpPages(QDialog):
    """A non-modal window beside the main one: the topics on the left, the page on the right."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        named(self, "helpDialog", "What am I looking at?")
        self.setWindowTitle("What am I looking at?")
        self.setWindowModality(Qt.WindowModality.NonModal)
        self.topic_list = named(QListWidget(), "helpTopics", "Help topics")
        self.browser = named(QTextBrowser(), "helpBrowser", "Help page")
        self.browser.setOpenExternalLinks(True)
        self._texts = {topic: help_text(topic) for topic in TOPICS}
        for topic in TOPICS:
            item = QListWidgetItem(help_title(self._texts[topic]))
            item.setData(Qt.ItemDataRole.UserRole, topic)
            self.topic_list.addItem(item)
        self.topic_list.setMaximumWidth(self.topic_list.sizeHintForColumn(0) + 24)
        self.topic_list.currentRowChanged.connect(self._show_row)
        layout = QHBoxLayout(self)
        layout.addWidget(self.topic_list)
        layout.addWidget(self.browser, 1)
        self.resize(760, 480)

    @property
    def topic(self) -> str:
        return TOPICS[self.topic_list.currentRow()]

    def open_topic(self, topic: str) -> None:
        self.topic_list.setCurrentRow(TOPICS.index(topic))
        self._show_row(self.topic_list.currentRow())  # the row may have been current already
        self.show()
        self.raise_()
        self.activateWindow()

    def _show_row(self, row: int) -> None:
        if row >= 0:
            self.browser.setMarkdown(with_literal_tildes(self._texts[TOPICS[row]]))


class ViewHelp:
    """Opens the help page of what the window shows: the tab on show below the map."""

    def __init__(
        self, view_tabs: QTabWidget, topics: Callable[[], dict[QWidget, str]], parent: QWidget
    ):
        """`topics`: the help topic of each page of `view_tabs` that has its own."""
        self.view_tabs = view_tabs
        self.topics = topics
        self.parent = parent
        self.pages: HelpPages | None = None  # built on first use

    def topic_of_current_view(self) -> str:
        return self.topics().get(self.view_tabs.currentWidget(), "latent_map")

    def open_for_current_view(self) -> None:
        if self.pages is None:
            self.pages = HelpPages(self.parent)
        self.pages.open_topic(self.topic_of_current_view())
