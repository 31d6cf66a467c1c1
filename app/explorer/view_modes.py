"""The explorer's views set up for the model on show: a data-space plot beside the map for 2-D
point data, image pages for images."""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtWidgets import QWidget

from app.explorer.data_space import DataSpaceView
from app.explorer.map_view import LatentMapView
from app.explorer.side_panel import SidePanel


def show_data_space(
    latent_map: LatentMapView,
    data_space: DataSpaceView,
    side: SidePanel,
    image_pages: Iterable[QWidget],
    planar: bool,
) -> None:
    """The data-space plot beside the map for 2-D points (decodes are points, not images)."""
    data_space.setVisible(planar)
    latent_map.set_tiles_available(not planar)
    # These pages draw decodes as images; a 2-D point decodes to a point, drawn in the data space.
    for page in image_pages:
        page.setEnabled(not planar)
        page.setToolTip(
            "For 2-D point data, decodes are drawn in the data space plot beside the map"
            if planar
            else ""
        )
    in_data_space = "Drawn in the data space plot"
    side.decoded_view.set_placeholder(in_data_space if planar else "")
    side.input_view.set_placeholder(in_data_space if planar else "Click a point on the map")
    if not planar:
        data_space.set_mesh(None)
        data_space.set_cursor(None)
        data_space.set_samples(None)
        data_space.set_selection(None)
