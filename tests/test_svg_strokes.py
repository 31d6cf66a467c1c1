"""Cosmetic strokes in exported SVG: drawn in page units, so that renderers that ignore
vector-effect (librsvg, ImageMagick, LibreOffice) draw them as wide as the screen does."""

from __future__ import annotations

import math
import re
from xml.etree import ElementTree

import numpy as np

from app.svg_strokes import SVG_NAMESPACE, with_page_strokes

NS = {"svg": SVG_NAMESPACE}
# A group that scales data units 100 times (as a plot's view does) holding a cosmetic path, rect
# and polyline, and a circle this does not rewrite; a path drawn with an ordinary pen beside them.
SVG = f"""<svg xmlns="{SVG_NAMESPACE}" width="300" height="300">
<g stroke-width="1.5" transform="matrix(100,0,0,-50,150,150)">
<path vector-effect="non-scaling-stroke" d="M0,0 L1,1 C1,2 2,2 2,1e-1 Z"/>
<rect vector-effect="non-scaling-stroke" x="-1" y="-1" width="0.5" height="2"/>
<polyline vector-effect="non-scaling-stroke" points="0,0 1,0 1,1"/>
<circle vector-effect="non-scaling-stroke" cx="0" cy="0" r="1"/>
<path stroke-width="0.02" d="M0,0 L1,0"/>
</g>
</svg>""".encode()


def _numbers(text: str) -> list[float]:
    return [float(value) for value in re.findall(r"[-+]?\d*\.?\d+(?:[eE][-+]?\d+)?", text)]


def _matrix(element) -> np.ndarray:
    a, b, c, d, e, f = _numbers(element.get("transform"))
    return np.array([[a, c, e], [b, d, f], [0, 0, 1]])


def test_cosmetic_strokes_are_redrawn_in_page_units_in_the_same_place():
    root = ElementTree.fromstring(with_page_strokes(SVG))
    group = root.find("svg:g", NS)
    scale = _matrix(group)
    path, rect, polyline, circle, plain = list(group)
    for element in (path, rect, polyline):
        assert "vector-effect" not in element.attrib
        # The element's user space is the page's: its 1.5 wide stroke is 1.5 pixels.
        np.testing.assert_allclose(scale @ _matrix(element), np.eye(3), atol=1e-9)
    # The coordinates are the page's: x·100 + 150, y·(−50) + 150 (commands and order kept).
    expected = "M 150,150 L 250,100 C 250,50 350,50 350,145 Z"
    assert path.get("d").split() == expected.split()
    assert rect.tag == f"{{{SVG_NAMESPACE}}}path"
    assert _numbers(rect.get("d")) == [50, 200, 100, 200, 100, 100, 50, 100]
    assert _numbers(polyline.get("points")) == [150, 150, 250, 150, 250, 100]
    # What this does not rewrite stays as Qt wrote it.
    assert circle.get("vector-effect") == "non-scaling-stroke" and "transform" not in circle.attrib
    assert plain.get("d") == "M0,0 L1,0" and "transform" not in plain.attrib


def test_svg_without_cosmetic_strokes_keeps_its_drawing():
    svg = f'<svg xmlns="{SVG_NAMESPACE}"><path d="M0,0 L{math.pi},1"/></svg>'.encode()
    root = ElementTree.fromstring(with_page_strokes(svg))
    assert root.find("svg:path", NS).get("d") == f"M0,0 L{math.pi},1"
