"""The explorer's geometry and GIF writer, checked against exact values (no Qt, no model)."""

from __future__ import annotations

import math
import struct

import numpy as np
import pytest

from app.explorer.gif import encode_gif
from app.explorer.latent_ops import (
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
from vae_core.errors import VaeStudioError


def test_plane_of_two_dimensions_keeps_the_others_at_the_anchor():
    anchor = np.array([0.5, -1.0, 2.0, 3.0])
    plane = LatentPlane.of_dimensions(anchor, 2, 0)
    codes = plane.codes(np.array([[1.5, -0.25], [0.0, 0.0]]))
    np.testing.assert_allclose(codes, [[-0.25, -1.0, 1.5, 3.0], [0.0, -1.0, 0.0, 3.0]])
    np.testing.assert_allclose(plane.project(codes), [[1.5, -0.25], [0.0, 0.0]])
    np.testing.assert_allclose(plane.project_covariance(np.array([1.0, 2.0, 3.0, 4.0])), np.diag([3.0, 1.0]))
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
    np.testing.assert_allclose(plane.project_covariance(variance), plane.basis @ np.diag(variance) @ plane.basis.T)


def test_principal_plane_keeps_the_signs_of_the_previous_plane():
    rng = np.random.default_rng(1)
    codes = rng.standard_normal((500, 3)) * np.array([3.0, 2.0, 0.5])
    previous = LatentPlane.principal(codes)
    flipped = LatentPlane(previous.origin, -previous.basis, previous.axis_names)
    again = LatentPlane.principal(codes, previous=flipped)
    np.testing.assert_allclose(again.basis, -previous.basis, atol=1e-12)


def test_tile_lattice_covers_the_view_with_at_most_twenty_tiles_a_side():
    for x_range, y_range in [((-3.0, 3.0), (-2.0, 2.5)), ((0.013, 0.021), (-7.0, -6.99)), ((-40, 10), (5, 9))]:
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
        np.testing.assert_allclose(np.hypot(pairs[:, 0], pairs[:, 1]), radius, atol=spacing**2 / radius)
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


def _gif_blocks(data: bytes):
    """Walk a GIF's blocks: the logical screen, and each frame's (delay, width, height)."""
    assert data[:6] == b"GIF89a"
    width, height, packed = struct.unpack("<HHB", data[6:11])
    position = 13 + (3 * 2 ** ((packed & 7) + 1) if packed & 0x80 else 0)
    frames, delay, loops = [], None, None
    while data[position] != 0x3B:
        introducer = data[position]
        if introducer == 0x21:
            label = data[position + 1]
            position += 2
            payload = b""
            while data[position]:
                payload += data[position + 1 : position + 1 + data[position]]
                position += 1 + data[position]
            position += 1
            if label == 0xF9:
                delay = struct.unpack("<H", payload[1:3])[0]
            elif label == 0xFF and payload.startswith(b"NETSCAPE2.0"):
                loops = struct.unpack("<H", payload[12:14])[0]
        elif introducer == 0x2C:
            _, _, frame_w, frame_h, frame_packed = struct.unpack("<HHHHB", data[position + 1 : position + 10])
            assert not frame_packed & 0x80  # frames use the global palette
            position += 11  # descriptor and the LZW minimum code size
            while data[position]:
                position += 1 + data[position]
            position += 1
            frames.append((delay, frame_w, frame_h))
        else:
            raise AssertionError(f"unexpected GIF block 0x{introducer:02x} at {position}")
    return (width, height), frames, loops


def test_gif_has_a_valid_structure_with_one_image_per_frame():
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (33, 47), dtype=np.uint8) for _ in range(5)]
    screen, blocks, loops = _gif_blocks(encode_gif(frames, frame_ms=120))
    assert screen == (47, 33)
    assert blocks == [(12, 47, 33)] * 5
    assert loops == 0


def test_gif_rejects_frames_of_different_shapes():
    with pytest.raises(VaeStudioError, match="same shape"):
        encode_gif([np.zeros((4, 4), np.uint8), np.zeros((5, 4), np.uint8)])
