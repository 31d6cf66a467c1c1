"""SVG whose lines are as wide in every renderer as on the screen.

pyqtgraph draws with cosmetic pens: a width in pixels whatever the zoom. Qt's SVG generator
writes them as `vector-effect="non-scaling-stroke"`, with coordinates in the item's own units
(a curve's data units, a scatter symbol's unit square) under the groups' transforms. Browsers honour
the vector effect; librsvg, ImageMagick and LibreOffice do not, and draw the stroke one data unit
wide: the prior's contours became filled rings, each test point a blob and the cursor a square.

`with_page_strokes` takes each such element's coordinates through its groups' transforms to the
page, and gives the element the inverse transform: it stays where it was, its stroke width now
counts page pixels in every renderer, and the vector effect goes. No Qt here: XML in, XML out.
"""

from __future__ import annotations

import re
from xml.etree import ElementTree

import numpy as np

SVG_NAMESPACE = "http://www.w3.org/2000/svg"
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
# What Qt writes in path data: absolute moves, lines, cubic curves and closes, whose numbers
# are all x, y pairs.
_PATH_TOKEN = re.compile(rf"[MLCZ]|{_NUMBER}")
_PATH_COMMANDS = re.compile(r"[A-Za-z]")
_TRANSFORM = re.compile(r"(matrix|translate|scale)\s*\(([^)]*)\)")


def with_page_strokes(svg: bytes) -> bytes:
    """`svg` with every non-scaling stroke drawn in page units (see the module's note)."""
    ElementTree.register_namespace("", SVG_NAMESPACE)
    ElementTree.register_namespace("xlink", "http://www.w3.org/1999/xlink")
    root = ElementTree.fromstring(svg)
    _visit(root, np.eye(3))
    return ElementTree.tostring(root, encoding="utf-8", xml_declaration=True)


def _visit(element: ElementTree.Element, parent: np.ndarray) -> None:
    for child in element:
        own = _matrix(child.get("transform", ""))
        if child.get("vector-effect") == "non-scaling-stroke":
            _to_page(child, parent, own)
        _visit(child, parent @ own)


def _matrix(transform: str) -> np.ndarray:
    """An SVG transform list as a 3 × 3 affine matrix (the kinds Qt writes)."""
    matrix = np.eye(3)
    for kind, arguments in _TRANSFORM.findall(transform):
        values = [float(value) for value in re.findall(_NUMBER, arguments)]
        step = np.eye(3)
        if kind == "matrix":
            step[:2] = np.array(values).reshape(3, 2).T
        elif kind == "translate":
            step[:2, 2] = values + [0.0] * (2 - len(values))
        else:
            step[0, 0], step[1, 1] = values[0], values[-1]
        matrix = matrix @ step
    return matrix


def _to_page(element: ElementTree.Element, parent: np.ndarray, own: np.ndarray) -> None:
    """Coordinates through the element's transform and its groups' (`parent`), and the inverse of
    the groups' as its transform; left as it is where its shape is one this does not know."""
    to_page = parent @ own
    if abs(np.linalg.det(to_page)) < 1e-12:
        return
    tag = element.tag.rsplit("}", 1)[-1]
    if tag == "rect":
        x, y, width, height = (
            float(element.get(name, 0)) for name in ("x", "y", "width", "height")
        )
        for name in ("x", "y", "width", "height", "rx", "ry"):
            element.attrib.pop(name, None)
        element.tag = f"{{{SVG_NAMESPACE}}}path"
        element.set("d", f"M{x},{y} L{x + width},{y} L{x + width},{y + height} L{x},{y + height} Z")
        tag = "path"
    if tag == "path":
        data = element.get("d", "")
        if set(_PATH_COMMANDS.findall(data)) - {"M", "L", "C", "Z", "e", "E"}:
            return
        element.set("d", _moved_path(data, to_page))
    elif tag in ("polyline", "polygon"):
        points = _moved(_pairs(re.findall(_NUMBER, element.get("points", ""))), to_page)
        element.set("points", " ".join(f"{x:.6g},{y:.6g}" for x, y in points))
    else:
        return
    inverse = np.linalg.inv(parent)
    (a, c, e), (b, d, f) = inverse[:2]
    element.set("transform", f"matrix({a:.9g},{b:.9g},{c:.9g},{d:.9g},{e:.9g},{f:.9g})")
    del element.attrib["vector-effect"]


def _pairs(numbers: list[str]) -> np.ndarray:
    return np.array([float(number) for number in numbers[: len(numbers) // 2 * 2]]).reshape(-1, 2)


def _moved(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    return points @ matrix[:2, :2].T + matrix[:2, 2]


def _moved_path(data: str, matrix: np.ndarray) -> str:
    parts, numbers = [], []
    for token in [*_PATH_TOKEN.findall(data), "Z"]:
        if token.isalpha():
            parts.extend(f"{x:.6g},{y:.6g}" for x, y in _moved(_pairs(numbers), matrix))
            parts.append(token)
            numbers = []
        else:
            numbers.append(token)
    return " ".join(parts[:-1])
