"""The selected example on show: its posterior's ellipses on the map, its image, reconstruction and
q(z|x) numbers in the side panel (for 2-D points, the point and its reconstruction in data space)."""

from __future__ import annotations

import torch

from app.explorer.map_drawing import ELLIPSE_SIGMAS
from app.explorer.side_panel import format_code, format_encoding
from app.state import ExplorerState, SelectedPosterior
from vae_core.figures.posterior import observed_selection
from vae_core.latent import LatentPlane, ellipse_outline, to_uint8_images
from vae_core.model_access import ExplorerModel, dataset_images

# Said of a Bernoulli model's selected input, in the side panel and (with the reason) under the
# map's true posterior: the image shown, q(z|x), its ellipses and the true posterior are all of
# one binary image, not of the grey one in the data set (the encoder never saw grey images).
BINARISED_INPUT = "x binarised"


def draw_posterior(setter, posterior, plane: LatentPlane) -> None:
    """Hand `setter` the 1σ/2σ outlines and the centre of a posterior (mean, std) on `plane`."""
    if posterior is None:
        setter(None)
        return
    mean, std = posterior
    centre = plane.project(mean[None])[0]
    covariance = plane.project_covariance(std**2)
    # A deterministic encoder (VQ-VAE) has a point, not a spread.
    outlines = (
        [ellipse_outline(centre, covariance, k) for k in ELLIPSE_SIGMAS] if std.any() else None
    )
    setter(outlines, centre)


class SelectionView:
    """Draws what of the explorer state is about examples and paths on the map: the selection,
    a drawn image's posterior, an interpolation's path, the hovered example's image."""

    def __init__(self, map_view, data_space, side, state: ExplorerState):
        self.map, self.data_space, self.side = map_view, data_space, side
        self.state = state
        state.events.path.connect(self.draw_path)
        state.events.drawn.connect(self.draw_drawn)

    def draw_path(self) -> None:
        path = self.state.path
        self.map.set_path(None if path is None else self.state.plane.project(path))

    def draw_drawn(self) -> None:
        draw_posterior(self.map.set_drawn, self.state.drawn, self.state.plane)

    def show_hovered(self, index: int) -> None:
        examples = self.state.examples
        if index < 0 or examples is None or not examples.is_image:
            self.map.show_preview(None)
            return
        self.map.show_preview(dataset_images(examples, [index])[0], index)

    def show(self, model: ExplorerModel | None) -> None:
        """Encode the selected example with the weights applied now; sets `state.posterior`."""
        state = self.state
        examples = state.examples
        if model is None or examples is None or state.selected is None:
            state.posterior = None
            self.side.show_selection(None)
            self.map.set_selection(None)
            self.data_space.set_selection(None)
            return
        # As the model observes it: the image q, its ellipses and the true posterior score.
        selected = observed_selection(model.model, examples, state.selected)
        images = selected.image[None]
        labels = None if selected.label is None else torch.tensor([selected.label])
        mean, std = model.posterior(images, labels)
        kl = model.kl_of(images, labels)
        state.posterior = SelectedPosterior(mean[0], std[0], None if kl is None else kl[0])
        text = format_encoding(model, mean[0], std[0], None if kl is None else kl[0])
        if model.planar:
            point = images[0].reshape(-1).double().numpy()
            reconstruction = model.reconstruct_values(images, labels)[0]
            self.data_space.set_selection(point, reconstruction)
            text = f"x = {format_code(point)}\nreconstruction {format_code(reconstruction)}\n{text}"
            self.side.show_selection(None, None, text)
        else:
            reconstruction = model.reconstruct(images, labels)[0]
            if model.model.likelihood.binarizes_data:
                text = f"{BINARISED_INPUT}\n{text}"
            self.side.show_selection(to_uint8_images(images.numpy())[0], reconstruction, text)
        draw_posterior(self.map.set_selection, (mean[0], std[0]), state.plane)
