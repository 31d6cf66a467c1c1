"""The Reconstructions and Samples tabs as views of the model on show: redrawn whenever the
explorer's copy of the model takes new weights (at most twice a second), with the same inputs and
the same prior draws each time. 2-D point data are drawn as points in data space."""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QLabel, QStackedWidget, QVBoxLayout, QWidget

from app.explorer.data_space import DataSpaceView
from app.explorer.decode_service import DecodeService
from app.explorer.image_widgets import ImageGrid
from app.naming import named
from app.previews import PreviewModel
from app.state import ShownModel
from vae_core.errors import VaeStudioError


class PreviewViews:
    def __init__(self, shown: ShownModel, decoder: DecodeService):
        self.shown = shown
        self.decoder = decoder
        self.preview: PreviewModel | None = None
        self.reconstructions = named(ImageGrid(), "reconstructionView", "Reconstructions")
        self.reconstructions.set_placeholder(
            "Inputs and their reconstructions appear here while a model trains"
        )
        self.samples = named(ImageGrid(), "samplesView", "Samples from the prior")
        self.samples.set_placeholder("Samples from the prior appear here while a model trains")
        self.reconstruction_points = DataSpaceView(
            "reconstructionPointsPlot", "Inputs (coloured) joined to their reconstructions (grey)"
        )
        self.sample_points = DataSpaceView(
            "samplePointsPlot", "Test data (coloured) and decoded prior draws (grey)"
        )
        self.reconstruction_stack = _stacked(self.reconstructions, self.reconstruction_points)
        self.samples_stack = _stacked(self.samples, self.sample_points)
        self.reconstruction_page = _captioned(
            self.reconstruction_stack, "Each input beside its reconstruction"
        )
        self.samples_page = _captioned(
            self.samples_stack, "Decoded draws z ~ p(z), the same draws at every refresh"
        )
        shown.model_changed.connect(self._model_changed)
        shown.explorer.events.decoded_generation.connect(self.render)

    def _model_changed(self) -> None:
        model, on_show = self.decoder.model, self.shown.model
        if model is None or on_show is None or on_show.test_data is None:
            self.preview = None
            self.reconstructions.set_images(None, columns=4)
            self.samples.set_images(None, columns=8)
            return
        self.preview = PreviewModel(model.model, on_show.test_data)
        self.render()

    def render(self) -> None:
        if self.preview is None:
            return
        try:
            if self.preview.planar:
                self._render_points()
                return
            self.reconstruction_stack.setCurrentWidget(self.reconstructions)
            self.samples_stack.setCurrentWidget(self.samples)
            self.reconstructions.set_images(self.preview.reconstruction_pairs(), columns=4)
            self.samples.set_images(self.preview.samples(), columns=8)
        except VaeStudioError as error:
            self.samples.set_images(None, columns=1)
            self.samples.set_placeholder(str(error))

    def _render_points(self) -> None:
        preview = self.preview
        inputs, outputs = preview.reconstruction_points()
        labels = preview.labels.numpy()
        self.reconstruction_stack.setCurrentWidget(self.reconstruction_points)
        self.reconstruction_points.set_data(inputs, labels, preview.class_names)
        self.reconstruction_points.set_samples(outputs)
        self.reconstruction_points.set_mesh(np.stack([inputs, outputs], axis=1))
        self.samples_stack.setCurrentWidget(self.sample_points)
        self.sample_points.set_data(inputs, labels, preview.class_names)
        self.sample_points.set_samples(preview.sample_points())


def _stacked(*widgets: QWidget) -> QStackedWidget:
    stack = QStackedWidget()
    for widget in widgets:
        stack.addWidget(widget)
    return stack


def _captioned(widget: QWidget, caption: str) -> QWidget:
    page = QWidget()
    layout = QVBoxLayout(page)
    layout.setContentsMargins(4, 4, 4, 4)
    label = QLabel(caption)
    label.setStyleSheet("color: gray")
    layout.addWidget(label)
    layout.addWidget(widget, 1)
    return page
