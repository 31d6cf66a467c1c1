"""The "ELBO identity" page: for the input selected on the map,
log p(x) = ELBO + KL(q(z|x) || p(z|x)) as bars with their numbers, and beside them the same for a
q fitted to this input alone, whose ELBO is higher by the amortization gap.

log p(x) is by quadrature on a grid for 2-D latents (ELBO and KL summed over the same cells), by
importance sampling from q above 2-D (KL = log p̂(x) - ELBO). The identity comes first; the
fitted q takes a few hundred Adam steps and arrives after (both from `ModelJobs`, computed by
`vae_core.figures.posterior.compute_identity`). The page asks only while visible.
"""

from __future__ import annotations

from collections.abc import Callable

import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QVBoxLayout

from app.controllers.job_kinds import ELBO_IDENTITY
from app.controllers.model_jobs import Answer, ModelJobs
from app.explorer.lazy_page import LazyPage
from app.naming import named
from app.state import ShownModel
from app.theory.posterior_layers import NO_SELECTION, nats, selected_input, unused_reason
from vae_core.evaluation.analysis import AmortizationReport
from vae_core.evaluation.elbo_identity import IDENTITY_SAMPLES, ElboIdentity

_COLOURS = {"elbo": "#56b4e9", "log_likelihood": "#009e73", "kl": "#e69f00"}
_BAR_WIDTH = 0.7


def _divergence(value: float) -> str:
    """A KL: never below 0, so a value that an estimate's noise puts a hair below reads as ≈ 0."""
    return "≈ 0" if abs(value) < 0.005 else nats(value, 2)


class IdentityView(LazyPage):
    """`identityView`: the bars on a plot, and the identity in words under them."""

    identityShown = Signal()  # the identity's bars and numbers are drawn
    gapShown = Signal()  # and the fitted q's

    def __init__(
        self, shown: ShownModel, jobs: ModelJobs, on_error: Callable[[str], None], parent=None
    ):
        super().__init__(parent)
        named(self, "identityView", "ELBO identity")
        self.shown = shown
        self._on_error = on_error
        self._line = jobs.line(ELBO_IDENTITY, self, self._answered, self._failed)
        self.identity: ElboIdentity | None = None
        self.gap: AmortizationReport | None = None
        self.plot = named(pg.PlotWidget(), "identityPlot", "ELBO identity bars")
        item = self.plot.getPlotItem()
        item.setMenuEnabled(False)
        item.hideButtons()
        item.setMouseEnabled(x=False, y=False)
        item.setLabel("left", "nats")
        self.caption = named(QLabel(), "identityCaption", "ELBO identity in words")
        self.caption.setWordWrap(True)
        self.caption.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.caption)
        shown.model_changed.connect(self.request_refresh)
        shown.explorer.events.posterior.connect(self.request_refresh)
        shown.explorer.events.decoded_generation.connect(self.request_refresh)
        self._show_message(NO_SELECTION)

    def refresh(self) -> None:
        reason = unused_reason(self.shown.model)
        selected = selected_input(self.shown)
        if reason or selected is None:
            self._line.cancel()
            self._show_message(
                f"Not used now: {reason}"
                if reason
                else f"The identity of one input: {NO_SELECTION}."
            )
            return
        self._line.ask(selected)

    def _answered(self, answer: Answer) -> None:
        if answer.value.identity is not None:
            self.identity, self.gap = answer.value.identity, None
            self._draw()
            self.identityShown.emit()
        else:
            self.gap = answer.value.gap
            self._draw()
            self.gapShown.emit()

    def _failed(self, error: Exception) -> None:
        self._show_message("The identity could not be computed.")
        self._on_error(f"the ELBO identity could not be computed: {error}")

    def _show_message(self, text: str) -> None:
        self.identity = self.gap = None
        self.plot.clear()
        self.caption.setText(text)

    # Drawing.
    @property
    def fitted_elbo(self) -> float | None:
        """The fitted q's ELBO: the identity's ELBO raised by the amortization gap (both ELBOs of
        the gap's report are estimated with the same noise, so their difference is not noise)."""
        return None if self.gap is None else self.identity.elbo + self.gap.amortization_gap

    def _draw(self) -> None:
        identity, fitted = self.identity, self.fitted_elbo
        log_p = identity.log_likelihood
        self.plot.clear()
        columns = [(0.0, identity.elbo, "encoder's q")]
        if fitted is not None:
            columns.append((3.0, fitted, "fitted q"))
        ticks = []
        for x, elbo, name in columns:
            self._bar(x, 0.0, elbo, "elbo", f"ELBO {nats(elbo, 2)}")
            self._bar(x + 1, 0.0, log_p, "log_likelihood", f"log p(x) {nats(log_p, 2)}")
            self._bar(x + 1, log_p, elbo, "kl", f"KL {_divergence(log_p - elbo)}")
            ticks += [(x, f"ELBO ({name})"), (x + 1, "log p(x) − KL(q ‖ p(z|x))")]
        if fitted is not None:
            # From the end of one ELBO bar to the end of the other: the gap between them.
            edge = _BAR_WIDTH / 2
            bracket = pg.PlotDataItem(
                [edge, 2.0, 2.0, 3.0 - edge],
                [identity.elbo, identity.elbo, fitted, fitted],
                pen=pg.mkPen("w", width=1.5, style=Qt.PenStyle.DashLine),
            )
            self.plot.addItem(bracket)
            gap_text = f"amortization\ngap {self.gap.amortization_gap:.2f}"
            self._text(2.08, (identity.elbo + fitted) / 2, gap_text, anchor=(0.0, 0.5))
        self.plot.getPlotItem().getAxis("bottom").setTicks([ticks])
        values = [log_p] + [elbo for _, elbo, _ in columns]
        spread = max(max(values) - min(values), 1.0)
        self.plot.setXRange(-0.6, 4.6 if fitted is not None else 1.6, padding=0)
        self.plot.setYRange(min(values) - 0.6 * spread, max(values) + 0.6 * spread, padding=0)
        self.caption.setText(self._words())

    def _bar(self, x: float, top: float, bottom: float, kind: str, text: str) -> None:
        low, high = min(top, bottom), max(top, bottom)
        self.plot.addItem(
            pg.BarGraphItem(
                x=[x],
                y0=[low],
                height=[high - low],
                width=_BAR_WIDTH,
                brush=_COLOURS[kind],
                pen=pg.mkPen("k"),
            )
        )
        self._text(x, bottom, text, anchor=(0.5, 0.0) if kind == "kl" else (0.5, 1.0))

    def _text(self, x: float, y: float, text: str, anchor=(0.5, 0.5)) -> None:
        label = pg.TextItem(text, color="w", anchor=anchor, fill=pg.mkBrush(0, 0, 0, 150))
        label.setPos(x, y)
        self.plot.addItem(label)

    def _words(self) -> str:
        identity = self.identity
        log_p, elbo, kl = identity.log_likelihood, identity.elbo, identity.kl
        if identity.method == "quadrature":
            source = "by quadrature on a grid fitted to p(z|x) and q(z|x); ELBO and KL are sums over the same cells"
            estimate = f"log p(x) {nats(log_p, 2)}"
        else:
            source = (
                f"by importance sampling from q(z|x), K = {IDENTITY_SAMPLES:,}; the ELBO is the same draws' "
                "mean log-weight, and KL = log p̂(x) − ELBO"
            )
            estimate = f"log p̂(x) {nats(log_p, 2)} ± {identity.standard_error:.2f}"
        words = f"{estimate} = ELBO {nats(elbo, 2)} + KL(q(z|x) ‖ p(z|x)) {kl:.2f} nats, {source}."
        if identity.exact_log_likelihood is not None:
            words += f" The model's exact log p(x): {nats(identity.exact_log_likelihood, 2)}."
        words += " (The axis is zoomed to the bars' ends; each bar starts at 0.)"
        if self.gap is None:
            return words + " Fitting q to this input alone…"
        steps = len(self.gap.elbo_trace)
        return (
            f"{words} A q fitted to this input alone ({steps} Adam steps) has ELBO {nats(self.fitted_elbo, 2)}: "
            f"the amortization gap is {self.gap.amortization_gap:.2f} nats, and what remains, "
            f"{_divergence(log_p - self.fitted_elbo)}, is the approximation gap of a diagonal Gaussian."
        )
