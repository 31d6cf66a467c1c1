"""The explorer's geometry and GIF writer, checked against exact values (no Qt, no model)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image, ImageSequence

from app.explorer.gif import write_gif
from vae_core.errors import VaeStudioError
from vae_core.latent import (
    LatentPlane,
    TileCache,
    contour_segments,
    density_levels,
    ellipse_outline,
    interpolate,
    mosaic,
    tile_lattice,
    traversal_codes,
)


def test_plane_of_two_dimensions_keeps_the_others_at_the_anchor():
    anchor = np.array([0.5, -1.0, 2.0, 3.0])
    plane = LatentPlane.of_dimensions(anchor, 2, 0)
    codes = plane.codes(np.array([[1.5, -0.25], [0.0, 0.0]]))
    np.testing.assert_allclose(codes, [[-0.25, -1.0, 1.5, 3.0], [0.0, -1.0, 0.0, 3.0]])
    np.testing.assert_allclose(plane.project(codes), [[1.5, -0.25], [0.0, 0.0]])
    np.testing.assert_allclose(
        plane.project_covariance(np.array([1.0, 2.0, 3.0, 4.0])), np.diag([3.0, 1.0])
    )
    assert plane.axis_names == ("z2", "z0")


def test_plane_rejects_a_repeated_or_missing_dimension():
    with pytest.raises(VaeStudioError, match="different"):
        LatentPlane.of_dimensions(np.zeros(3), 1, 1)
    with pytest.raises(VaeStudioError, match="z5"):
        LatentPlane.of_dimensions(np.zeros(3), 0, 5)


def test_principal_plane_finds_the_axes_of_largest_spread():
    rng = np.random.default_rng(0)
    first = np.array([1.0, 1.0, 0.0, 0.0]) / math.sqrt(2)
    second = np.array([0.0, 0.0, 1.0, -1.0]) / math.sqrt(2)
    # Spreads 5, 2 and 0.1 along three orthogonal directions, centred at (1, 2, 3, 4).
    codes = (
        np.array([1.0, 2.0, 3.0, 4.0])
        + 5 * rng.standard_normal((4000, 1)) * first
        + 2 * rng.standard_normal((4000, 1)) * second
        + 0.1 * rng.standard_normal((4000, 1)) * np.array([1.0, -1.0, 0.0, 0.0]) / math.sqrt(2)
    )
    plane = LatentPlane.principal(codes)
    assert abs(plane.basis[0] @ first) == pytest.approx(1.0, abs=1e-3)
    assert abs(plane.basis[1] @ second) == pytest.approx(1.0, abs=1e-3)
    np.testing.assert_allclose(plane.basis @ plane.basis.T, np.eye(2), atol=1e-12)
    np.testing.assert_allclose(plane.origin, codes.mean(0))
    # The projected covariance of a diagonal Gaussian is B diag(var) B^T.
    variance = np.array([1.0, 2.0, 3.0, 4.0])
    np.testing.assert_allclose(
        plane.project_covariance(variance), plane.basis @ np.diag(variance) @ plane.basis.T
    )


def test_principal_plane_keeps_the_signs_of_the_previous_plane():
    rng = np.random.default_rng(1)
    codes = rng.standard_normal((500, 3)) * np.array([3.0, 2.0, 0.5])
    previous = LatentPlane.principal(codes)
    flipped = LatentPlane(previous.origin, -previous.basis, previous.axis_names)
    again = LatentPlane.principal(codes, previous=flipped)
    np.testing.assert_allclose(again.basis, -previous.basis, atol=1e-12)


def test_tile_lattice_covers_the_view_with_at_most_twenty_tiles_a_side():
    for x_range, y_range in [
        ((-3.0, 3.0), (-2.0, 2.5)),
        ((0.013, 0.021), (-7.0, -6.99)),
        ((-40, 10), (5, 9)),
    ]:
        lattice = tile_lattice(x_range, y_range, 20)
        rows, columns = lattice.shape
        assert rows <= 20 and columns <= 20
        left, bottom, width, height = lattice.bounds()
        assert left <= x_range[0] and left + width >= x_range[1]
        assert bottom <= y_range[0] and bottom + height >= y_range[1]
        # Centres sit at (k + 1/2) * size: the lattice does not move when the view pans.
        steps = lattice.xs / lattice.size - 0.5
        np.testing.assert_allclose(steps, np.round(steps), atol=1e-9)
        assert np.all(np.diff(lattice.ys) < 0)  # first row at the top


def test_panning_keeps_tiles_that_stay_in_view():
    before = tile_lattice((-3.0, 3.0), (-3.0, 3.0))
    after = tile_lattice((-2.6, 3.4), (-3.0, 3.0))
    assert before.size == after.size
    # A pan of less than a tile drops at most one column and adds at most one.
    shared = np.intersect1d(np.round(before.xs, 9), np.round(after.xs, 9))
    assert len(shared) >= len(before.xs) - 1


def test_tile_cache_decodes_only_the_cells_a_pan_brings_into_view():
    decoded = []

    def decode(points):
        decoded.append(len(points))
        # A 2x2 "image" that records the point it was decoded at.
        return np.repeat(points[:, None, :], 2, axis=1)

    cache = TileCache(capacity=1000)
    first = tile_lattice((-3.0, 3.0), (-3.0, 3.0))
    images = cache.images(first, "weights 1", decode)
    assert decoded == [first.shape[0] * first.shape[1]]
    np.testing.assert_array_equal(images[:, 0], first.centres())
    moved = tile_lattice((-3.0 + first.size, 3.0 + first.size), (-3.0, 3.0))
    images = cache.images(moved, "weights 1", decode)
    assert decoded[1] == moved.shape[0]  # one new column
    np.testing.assert_array_equal(images[:, 0], moved.centres())
    cache.images(moved, "weights 2", decode)
    assert decoded[2] == moved.shape[0] * moved.shape[1]


def test_mosaic_lays_images_out_row_by_row_with_gaps():
    images = np.arange(6 * 2 * 3, dtype=np.uint8).reshape(6, 2, 3)
    plain = mosaic(images, 2, 3)
    assert plain.shape == (4, 9)
    np.testing.assert_array_equal(plain[2:4, 3:6], images[4])
    spaced = mosaic(images, 2, 3, gap=1, fill=200)
    assert spaced.shape == (5, 11)
    np.testing.assert_array_equal(spaced[3:5, 8:11], images[5])
    assert np.all(spaced[2] == 200)
    colour = np.zeros((4, 2, 2, 3), dtype=np.uint8)
    colour[3] = 7
    assert mosaic(colour, 2, 2)[2:, 2:].tolist() == [[[7] * 3] * 2] * 2


def test_linear_interpolation_ends_at_the_picks_and_steps_evenly():
    start, end = np.array([1.0, -2.0, 0.0]), np.array([3.0, 2.0, 4.0])
    path = interpolate(start, end, 5, "linear")
    np.testing.assert_array_equal(path[0], start)
    np.testing.assert_array_equal(path[-1], end)
    np.testing.assert_allclose(np.diff(path, axis=0), np.tile((end - start) / 4, (4, 1)))


def test_spherical_interpolation_follows_the_great_circle():
    start, end = np.array([2.0, 0.0]), np.array([0.0, 2.0])
    path = interpolate(start, end, 3, "spherical")
    np.testing.assert_allclose(path[0], start, atol=1e-12)
    np.testing.assert_allclose(path[-1], end, atol=1e-12)
    np.testing.assert_allclose(path[1], [math.sqrt(2), math.sqrt(2)])  # norm 2 kept, at 45 degrees
    np.testing.assert_allclose(np.linalg.norm(interpolate(start, end, 9, "spherical"), axis=1), 2.0)


def test_interpolation_rejects_unknown_methods_and_single_frames():
    with pytest.raises(VaeStudioError, match="linear"):
        interpolate(np.zeros(2), np.ones(2), 4, "cubic")
    with pytest.raises(VaeStudioError, match="2 frames"):
        interpolate(np.zeros(2), np.ones(2), 1)


def test_traversal_rows_change_only_their_own_dimension():
    anchor = np.array([0.3, -0.7, 1.1])
    values = np.linspace(-3, 3, 7)
    codes = traversal_codes(anchor, [2, 0, 1], values)
    assert codes.shape == (3, 7, 3)
    for row, dimension in enumerate([2, 0, 1]):
        np.testing.assert_array_equal(codes[row, :, dimension], values)
        others = np.delete(codes[row], dimension, axis=1)
        np.testing.assert_array_equal(others, np.tile(np.delete(anchor, dimension), (7, 1)))


def test_ellipse_points_lie_at_the_given_mahalanobis_distance():
    mean = np.array([1.0, -2.0])
    covariance = np.array([[2.0, 0.6], [0.6, 0.5]])
    inverse = np.linalg.inv(covariance)
    for sigmas in (1.0, 2.0):
        outline = ellipse_outline(mean, covariance, sigmas)
        offsets = outline - mean
        distances = np.sqrt(np.einsum("ni,ij,nj->n", offsets, inverse, offsets))
        np.testing.assert_allclose(distances, sigmas)
        np.testing.assert_allclose(outline[0], outline[-1])


def test_density_levels_of_a_standard_normal_are_its_sigma_circles():
    grid = np.linspace(-4, 4, 81)
    u, v = np.meshgrid(grid, grid)
    log_density = -0.5 * (math.log(2 * math.pi) * 2 + u**2 + v**2)
    levels = density_levels(log_density)
    for k, level in zip((1, 2, 3), levels):
        # log N(z) at radius k is the peak minus k^2 / 2.
        assert level == pytest.approx(-math.log(2 * math.pi) - k * k / 2)


def test_contour_segments_trace_a_circle():
    grid = np.linspace(-3, 3, 49)
    u, v = np.meshgrid(grid, grid, indexing="ij")
    spacing = grid[1] - grid[0]
    for radius in (1.0, 2.0):
        pairs = contour_segments(u**2 + v**2, radius**2) * spacing + grid[0]
        assert len(pairs) % 2 == 0 and len(pairs) > 40
        # Linear interpolation along an edge puts points just inside the true circle.
        np.testing.assert_allclose(
            np.hypot(pairs[:, 0], pairs[:, 1]), radius, atol=spacing**2 / radius
        )
        # Every segment joins two points a cell apart at most.
        lengths = np.linalg.norm(pairs[0::2] - pairs[1::2], axis=1)
        assert np.all(lengths <= spacing * math.sqrt(2) + 1e-12)


def test_contour_segments_of_a_plane_and_a_saddle():
    # f = x on a 3x2 grid: the level 0.5 crosses once per row of cells, at x = 0.5.
    values = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]])
    np.testing.assert_allclose(contour_segments(values, 0.5), [[0.5, 0.0], [0.5, 1.0]])
    # Two opposite corners above the level: two segments, one cutting off each.
    saddle = np.array([[1.0, 0.0], [0.0, 1.0]])
    pairs = contour_segments(saddle, 0.5)
    assert len(pairs) == 4
    np.testing.assert_allclose(np.sort(pairs.sum(1)), [0.5, 0.5, 1.5, 1.5])
    assert len(contour_segments(np.zeros((4, 4)), 1.0)) == 0


def _read_gif(path, mode: str):
    """The size, each frame's pixels in `mode` and duration, and the loop count, as Pillow reads them."""
    with Image.open(path) as gif:
        frames = [
            (np.asarray(frame.convert(mode)), frame.info["duration"])
            for frame in ImageSequence.Iterator(gif)
        ]
        return gif.size, frames, gif.info.get("loop")


def _frames(mode: str, rng) -> list[np.ndarray]:
    if mode == "L":
        return [rng.integers(0, 256, (33, 47), dtype=np.uint8) for _ in range(5)]  # all 256 levels
    colours = rng.integers(0, 256, (40, 3), dtype=np.uint8)  # few enough for one palette
    return [colours[rng.integers(0, len(colours), (33, 47))] for _ in range(5)]


@pytest.mark.parametrize("mode, loop", [("L", 0), ("RGB", 2)], ids=["grey", "colour"])
def test_gif_holds_every_frame_exactly_with_its_duration(tmp_path, mode, loop):
    frames = _frames(mode, np.random.default_rng(0))
    write_gif(tmp_path / "frames.gif", frames, frame_ms=120, loop=loop)
    size, read, read_loop = _read_gif(tmp_path / "frames.gif", mode)
    assert size == (47, 33) and read_loop == loop
    assert [duration for _, duration in read] == [120] * 5
    for frame, (pixels, _) in zip(frames, read, strict=True):
        np.testing.assert_array_equal(pixels, frame)


def test_gif_merges_a_repeated_frame_into_the_one_before_for_as_long(tmp_path):
    still, moved = np.zeros((4, 6), np.uint8), np.full((4, 6), 200, np.uint8)
    write_gif(tmp_path / "still.gif", [still, still, moved], frame_ms=100)
    _, read, _ = _read_gif(tmp_path / "still.gif", "L")
    assert [duration for _, duration in read] == [200, 100]


def test_gif_refuses_odd_frames_and_unwritable_paths_with_one_line(tmp_path):
    with pytest.raises(VaeStudioError, match="same shape"):
        write_gif(tmp_path / "a.gif", [np.zeros((4, 4), np.uint8), np.zeros((5, 4), np.uint8)])
    with pytest.raises(VaeStudioError, match="at least one frame"):
        write_gif(tmp_path / "a.gif", [])
    with pytest.raises(VaeStudioError, match="grey or"):
        write_gif(tmp_path / "a.gif", [np.zeros((4, 4, 4), np.uint8)])
    (tmp_path / "file").write_text("")
    with pytest.raises(VaeStudioError, match=f"cannot write GIF {tmp_path / 'file' / 'a.gif'}: "):
        write_gif(tmp_path / "file" / "a.gif", [np.zeros((4, 4), np.uint8)])
    assert sorted(path.name for path in tmp_path.iterdir()) == ["file"]  # nothing half-written
