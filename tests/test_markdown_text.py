"""Tildes in lessons and help pages read as "distributed as", never as strikethrough."""

from __future__ import annotations

from PySide6.QtGui import QTextDocument

from app.markdown_text import with_literal_tildes


def _struck_and_plain(markdown: str) -> tuple[bool, str]:
    document = QTextDocument()
    document.setMarkdown(markdown)
    struck, block = False, document.begin()
    while block.isValid():
        fragments = block.begin()
        while not fragments.atEnd():
            struck |= fragments.fragment().charFormat().fontStrikeOut()
            fragments += 1
        block = block.next()
    return struck, document.toPlainText()


def test_the_seeds_sampling_line_keeps_its_tildes_unstruck(qapp):
    line = "Generating is the story run forwards: z ~ p(z), then x ~ p_θ(x|z)."
    assert _struck_and_plain(line)[0]  # what Qt's GitHub dialect does to it
    struck, plain = _struck_and_plain(with_literal_tildes(line))
    assert not struck and plain == line


def test_code_keeps_its_tildes_as_typed():
    text = "a ~ b and `x ~ y`\n\n    E_{z ~ q(z)} [ f(z) ]\n\n```\nz ~ p\n```\nc \\~ d"
    assert with_literal_tildes(text) == (
        "a \\~ b and `x ~ y`\n\n    E_{z ~ q(z)} [ f(z) ]\n\n```\nz ~ p\n```\nc \\~ d"
    )
