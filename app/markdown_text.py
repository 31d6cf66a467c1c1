"""Markdown as the window shows it: Qt reads GitHub's dialect, where "z ~ p(z), then x ~ p(x|z)"
strikes out the text between the two tildes. A lesson or help page means the tilde of
"distributed as"; tildes are made literal outside code, where a backslash would show."""

from __future__ import annotations

import re

_FENCE = re.compile(r"^\s{0,3}(```|~~~)")
_INDENTED_CODE = re.compile(r"^(    |\t)")
_CODE_SPAN = re.compile(r"(`+)(?:.*?)\1")


def with_literal_tildes(text: str) -> str:
    """`text` with every tilde outside code escaped, so that none strikes text out."""
    lines, in_fence = [], False
    for line in text.split("\n"):
        if _FENCE.match(line):
            in_fence = not in_fence
            lines.append(line)
        elif in_fence or _INDENTED_CODE.match(line):
            lines.append(line)
        else:
            lines.append(_escaped_outside_code_spans(line))
    return "\n".join(lines)


def _escaped_outside_code_spans(line: str) -> str:
    pieces, start = [], 0
    for span in _CODE_SPAN.finditer(line):
        pieces.append(_escaped(line[start : span.start()]))
        pieces.append(span.group(0))
        start = span.end()
    pieces.append(_escaped(line[start:]))
    return "".join(pieces)


def _escaped(text: str) -> str:
    return re.sub(r"(?<!\\)~", r"\\~", text)
