"""The step taken apart, drawn on the latent map: q(z|x)'s ellipse and mean (encode), ε and the
draw z = μ + σ·ε (reparameterize), the gradient's arrows for μ and σ, scaled to be seen
(gradient), and the ellipse moved by the update with the old one faded (update).

A view only: it draws the step-apart state's phase on the explorer state's plane, and keeps what
it drew (`drawn`) in plane coordinates for whoever checks it."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from app.explorer.map_drawing import ELLIPSE_SIGMAS
from app.state import ExplorerState
from app.state.step_apart import StepApartState
from vae_core.latent import ellipse_outline
from vae_core.training.step_apart import PHASES, StepPhase

# Above the selection's ellipses, below the cursor.
_Z_FADED, _Z_LAYER, _Z_ARROWS = 16.5, 17, 18
STEP_COLOUR = (255, 60, 200)
MU_COLOUR = (255, 235, 60)
SIGMA_COLOUR = (90, 255, 120)
# The longest gradient arrow spans about this share of the map's visible width or height.
ARROW_SHARE = 0.3
# q(z|x)'s 2σ ellipse narrower than this share of the visible width is zoomed to when encoded.
SMALLEST_SHARE = 0.05


# t-SNE places codes by their neighbours: q(z|x), z and the gradient have no place on its map.
NOT_ON_THIS_PLANE = (
    "The step is drawn on the planes that hold codes (two dimensions, principal components), "
    "not on t-SNE's"
)


def nice_scale(value: float) -> float:
    """The largest 1, 2 or 5 times a power of ten not above `value` (a scale read at a glance)."""
    if not value > 0 or not math.isfinite(value):
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    return max(step for step in (1.0, 2.0, 5.0) if step * power <= value * (1 + 1e-12)) * power


def arrow_pairs(start: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """A shaft from `start` along `vector` and its head's two barbs, as point pairs (6, 2)."""
    tip = start + vector
    length = float(np.hypot(*vector))
    if length == 0:
        return np.zeros((0, 2))
    back = -vector / length * min(0.3 * length, 0.25)
    side = np.array([-back[1], back[0]]) * 0.5
    return np.array([start, tip, tip, tip + back + side, tip, tip + back - side])


def _coloured(colour, mark: str, words: str) -> str:
    red, green, blue = colour
    return f"<span style='color: rgb({red}, {green}, {blue})'>{mark}</span> {words}"


_KEY_ELLIPSE = _coloured(STEP_COLOUR, "●", "μ, and q(z|x) = N(μ, σ²) at 1σ and 2σ")
_KEY_CODE = _coloured((255, 255, 255), "★", "z = μ + σ·ε, the draw")
_KEY_FADED = _coloured(STEP_COLOUR, "┄", "q(z|x) before the step (faded)")
_KEY_MOVED = _coloured(STEP_COLOUR, "●", "q(z|x) after the step")


def _pen(colour, width=2.0, alpha=255, style=Qt.PenStyle.SolidLine):
    return pg.mkPen((*colour, alpha), width=width, style=style)


class StepApartLayer:
    """The items on `plot` (the map's latentPlot) that draw a step taken apart."""

    def __init__(self, plot: pg.PlotWidget, step: StepApartState, explorer: ExplorerState):
        self.step, self.explorer, self.view_box = step, explorer, plot.getPlotItem().getViewBox()
        self.drawn: dict[str, object] = {}
        self.ellipses = [self._curve(plot, _pen(STEP_COLOUR, w), _Z_LAYER) for w in (2.5, 1.5)]
        faded = _pen(STEP_COLOUR, 1.5, 110, Qt.PenStyle.DashLine)
        self.faded = [self._curve(plot, faded, _Z_FADED) for _ in ELLIPSE_SIGMAS]
        self.draw_line = self._curve(plot, _pen((255, 255, 255), 1.5, 220), _Z_LAYER)
        self.mean_arrow = self._curve(plot, _pen(MU_COLOUR, 3), _Z_ARROWS, connect="pairs")
        self.std_arrows = self._curve(plot, _pen(SIGMA_COLOUR, 3), _Z_ARROWS, connect="pairs")
        self.points = pg.ScatterPlotItem(size=11, pxMode=True)
        self.points.setZValue(_Z_ARROWS)
        plot.addItem(self.points)
        self.key = QLabel(plot)  # what the marks are, in the map's top right corner
        self.key.setObjectName("stepApartKey")
        self.key.setStyleSheet("background: rgba(0, 0, 0, 170); color: white; padding: 4px;")
        self.key.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.key.hide()
        step.events.phase.connect(self.redraw)
        step.events.active.connect(self.redraw)
        explorer.events.plane.connect(self.redraw)
        explorer.events.plane_choice.connect(self.redraw)

    @staticmethod
    def _curve(plot, pen, z, connect="all") -> pg.PlotCurveItem:
        curve = pg.PlotCurveItem(pen=pen, connect=connect)
        curve.setZValue(z)
        plot.addItem(curve)
        return curve

    def redraw(self, *_) -> None:
        phase = self.step.phase if self.step.active else None
        self.drawn = {}
        for curve in (*self.ellipses, *self.faded, self.draw_line, self.mean_arrow):
            curve.setData([], [])
        self.std_arrows.setData([], [])
        self.points.clear()
        self.key.setVisible(phase is not None)
        if phase is not None and not self.explorer.plane_decodes:
            self._show_key([NOT_ON_THIS_PLANE])
        elif phase is not None:
            self._draw(phase, PHASES.index(phase.name))

    def _draw(self, phase: StepPhase, reached: int) -> None:
        plane = self.explorer.plane
        updated = reached >= PHASES.index("update")
        mean = plane.project(phase.mean[None])[0]
        if reached == 0:
            self._frame(mean, phase.std)
        spots = [self._spot(mean, "o", STEP_COLOUR)]
        self._ellipses(self.faded if updated else self.ellipses, mean, phase.std)
        key = [_KEY_FADED if updated else _KEY_ELLIPSE]
        self.drawn["mean"] = mean
        if reached >= PHASES.index("reparameterize") and not updated:
            code = plane.project(phase.code[None])[0]
            self.draw_line.setData(*np.stack([mean, code]).T)
            spots.append(self._spot(code, "star", (255, 255, 255)))
            key.append(_KEY_CODE)
            self.drawn["code"] = code
        if reached == PHASES.index("gradient"):
            key.extend(self._arrows(phase, mean))
        if updated:
            moved = plane.project(phase.updated_mean[None])[0]
            self._ellipses(self.ellipses, moved, phase.updated_std)
            self.draw_line.setData(*np.stack([mean, moved]).T)
            spots.append(self._spot(moved, "o", STEP_COLOUR))
            key.append(_KEY_MOVED)
            self.drawn["updated_mean"] = moved
        self.points.setData(spots)
        self._show_key(key)

    def _frame(self, mean: np.ndarray, std: np.ndarray) -> None:
        """Zoom to q(z|x) when it is too small to be seen, or off the map."""
        (x_low, x_high), (y_low, y_high) = self.view_box.viewRange()
        spread = 2 * float(np.sqrt(self.explorer.plane.project_covariance(std**2).diagonal().max()))
        inside = x_low < mean[0] < x_high and y_low < mean[1] < y_high
        if inside and spread > SMALLEST_SHARE * (x_high - x_low):
            return
        half = max(4 * spread, 0.5)
        self.view_box.setRange(
            xRange=(mean[0] - half, mean[0] + half), yRange=(mean[1] - half, mean[1] + half)
        )

    def _show_key(self, lines: list[str]) -> None:
        self.key.setText("<br>".join(lines))
        self.key.adjustSize()
        plot = self.key.parentWidget()
        self.key.move(plot.width() - self.key.width() - 12, 8)
        self.key.raise_()

    def _ellipses(self, curves, centre: np.ndarray, std: np.ndarray) -> None:
        covariance = self.explorer.plane.project_covariance(std**2)
        for curve, sigmas in zip(curves, ELLIPSE_SIGMAS):
            outline = ellipse_outline(centre, covariance, sigmas)
            curve.setData(outline[:, 0], outline[:, 1])

    def _arrows(self, phase: StepPhase, mean: np.ndarray) -> list[str]:
        """−∂loss/∂μ from μ, and −∂loss/∂σ at the ellipse's 1σ edge along each axis of the map:
        the way the update moves μ and widens or narrows q(z|x), times one stated scale."""
        basis = self.explorer.plane.basis
        mean_gradient = basis @ phase.mean_gradient  # (2,) on the map's axes
        std_gradient = basis @ phase.std_gradient
        sigma = np.sqrt(basis**2 @ phase.std**2)  # q's spread along each axis
        (x_low, x_high), (y_low, y_high) = self.view_box.viewRange()
        span = min(x_high - x_low, y_high - y_low)
        largest = max(np.hypot(*mean_gradient), *np.abs(std_gradient))
        scale = nice_scale(ARROW_SHARE * span / largest) if largest > 0 else 1.0
        mean_vector = -scale * mean_gradient
        self.mean_arrow.setData(*arrow_pairs(mean, mean_vector).T)
        edges = [mean + sigma[axis] * np.eye(2)[axis] for axis in range(2)]
        std_vectors = [-scale * std_gradient[axis] * np.eye(2)[axis] for axis in range(2)]
        pairs = np.concatenate([arrow_pairs(e, v) for e, v in zip(edges, std_vectors)])
        self.std_arrows.setData(*pairs.T)
        self.drawn.update(
            scale=scale, mean_arrow=(mean, mean_vector), std_arrows=list(zip(edges, std_vectors))
        )
        return [
            _coloured(MU_COLOUR, "⟶", f"−∂loss/∂μ × {scale:g}: where the step moves μ"),
            _coloured(
                SIGMA_COLOUR, "⟶", f"−∂loss/∂σ × {scale:g}, at the 1σ edges: σ grows or shrinks"
            ),
        ]

    @staticmethod
    def _spot(position, symbol, colour) -> dict:
        return {
            "pos": tuple(position),
            "symbol": symbol,
            "brush": pg.mkBrush(*colour),
            "pen": pg.mkPen(0, 0, 0, width=1.5),
            "size": 15 if symbol == "star" else 11,
        }
