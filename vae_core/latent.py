"""The explorer's geometry in numpy: planes through latent space, tile lattices, paths, ellipses.

Nothing here imports Qt or touches a model, so every function is tested on exact values.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from vae_core.choices import check_choice
from vae_core.errors import VaeStudioError


@dataclass(frozen=True)
class LatentPlane:
    """A 2-D affine slice of the D-dimensional latent space: code = origin + (u, v) @ basis.

    The rows of `basis` are orthonormal (the second is zero when D is 1), so projecting a code
    onto the plane is `(code - origin) @ basis.T`.
    """

    origin: np.ndarray  # (D,)
    basis: np.ndarray  # (2, D)
    axis_names: tuple[str, str]

    @property
    def latent_dim(self) -> int:
        return len(self.origin)

    @classmethod
    def of_dimensions(cls, anchor: np.ndarray, first: int, second: int) -> LatentPlane:
        """Dimensions `first` and `second` vary; every other dimension stays at the anchor's value."""
        anchor = np.asarray(anchor, dtype=np.float64)
        dim = len(anchor)
        if dim >= 2 and first == second:
            raise VaeStudioError(
                f"the map's two axes must be different latent dimensions, got z{first} twice"
            )
        for index in (first, second) if dim >= 2 else (first,):
            if not 0 <= index < dim:
                raise VaeStudioError(
                    f"latent dimension z{index} does not exist (the model has {dim})"
                )
        origin = anchor.copy()
        basis = np.zeros((2, dim))
        origin[first] = 0.0
        basis[0, first] = 1.0
        if dim >= 2:
            origin[second] = 0.0
            basis[1, second] = 1.0
        return cls(origin, basis, (f"z{first}", f"z{second}" if dim >= 2 else "-"))

    @classmethod
    def principal(cls, codes: np.ndarray, previous: LatentPlane | None = None) -> LatentPlane:
        """The plane through the codes' mean spanned by their first two principal components.

        Each component's sign follows the previous plane's where there is one, so the map does
        not mirror itself when the codes are refreshed during training.
        """
        codes = np.asarray(codes, dtype=np.float64)
        dim = codes.shape[1]
        if len(codes) < 2 or dim < 2:
            return cls.of_dimensions(np.zeros(dim), 0, min(1, dim - 1))
        mean = codes.mean(0)
        _, _, components = np.linalg.svd(codes - mean, full_matrices=False)
        basis = components[:2].copy()
        for row in range(2):
            if previous is not None and previous.basis.shape == basis.shape:
                reference = previous.basis[row]
            else:
                reference = np.eye(dim)[np.argmax(np.abs(basis[row]))]
            if basis[row] @ reference < 0:
                basis[row] = -basis[row]
        return cls(mean, basis, ("PC1", "PC2"))

    def codes(self, points: np.ndarray) -> np.ndarray:
        """Plane coordinates (N, 2) -> latent codes (N, D)."""
        return self.origin + np.asarray(points, dtype=np.float64) @ self.basis

    def project(self, codes: np.ndarray) -> np.ndarray:
        """Latent codes (N, D) -> plane coordinates (N, 2)."""
        return (np.asarray(codes, dtype=np.float64) - self.origin) @ self.basis.T

    def project_covariance(self, variance: np.ndarray) -> np.ndarray:
        """The (2, 2) covariance on the plane of a diagonal Gaussian with the given variances (D,)."""
        return (self.basis * np.asarray(variance, dtype=np.float64)) @ self.basis.T


@dataclass(frozen=True)
class TileLattice:
    """Square tiles on a fixed lattice of spacing `size`: tile (r, c) is centred at (xs[c], ys[r]).

    Rows run from the top of the view (largest v) down, the order of an image's rows.
    """

    xs: np.ndarray  # (cols,)
    ys: np.ndarray  # (rows,)
    size: float

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.ys), len(self.xs)

    def centres(self) -> np.ndarray:
        """(rows * cols, 2) in row-major order, top row first."""
        u, v = np.meshgrid(self.xs, self.ys)
        return np.stack([u.ravel(), v.ravel()], axis=1)

    def bounds(self) -> tuple[float, float, float, float]:
        """Left, bottom, width, height of the area the tiles cover."""
        half = self.size / 2
        left, bottom = self.xs[0] - half, self.ys[-1] - half
        return left, bottom, len(self.xs) * self.size, len(self.ys) * self.size


class TileCache:
    """Decoded tiles by lattice cell, so a pan decodes only the cells that come into view.

    Entries hold for one `context` (the weights, the plane, the class and the tile size the
    caller names); a new context, or more than `capacity` cells, starts afresh.
    """

    def __init__(self, capacity: int):
        self.capacity = capacity
        self._context = None
        self._images: dict[tuple[int, int], np.ndarray] = {}

    def images(
        self, lattice: TileLattice, context, decode: Callable[[np.ndarray], np.ndarray]
    ) -> np.ndarray:
        """The tiles of `lattice` (rows * cols, H, W[, C]), top row first; `decode` maps the
        plane points (M, 2) of missing cells to their images."""
        if context != self._context or len(self._images) > self.capacity:
            self._context = context
            self._images = {}
        columns = np.rint(lattice.xs / lattice.size - 0.5).astype(int)
        rows = np.rint(lattice.ys / lattice.size - 0.5).astype(int)
        cells = [(row, column) for row in rows for column in columns]
        missing = [index for index, cell in enumerate(cells) if cell not in self._images]
        if missing:
            decoded = decode(lattice.centres()[missing])
            for index, image in zip(missing, decoded):
                self._images[cells[index]] = image
        return np.stack([self._images[cell] for cell in cells])


# Tile sizes step by a quarter octave, so zooming changes the lattice in small, stable steps.
_STEPS_PER_OCTAVE = 4


def tile_lattice(
    x_range: tuple[float, float], y_range: tuple[float, float], max_tiles: int = 20
) -> TileLattice:
    """The coarsest-needed lattice covering the visible rectangle with at most `max_tiles` per side.

    Tiles sit at multiples of their size, so panning moves the view over tiles that stay put
    instead of re-cutting them.
    """
    if max_tiles < 2:
        raise VaeStudioError(f"the map needs at least 2 tiles a side, got {max_tiles}")
    x0, x1 = sorted(x_range)
    y0, y1 = sorted(y_range)
    span = max(x1 - x0, y1 - y0, 1e-9)
    # With spacing s, an interval of length L meets at most L / s + 1 cells.
    needed = span / (max_tiles - 1)
    size = 2.0 ** (math.ceil(math.log2(needed) * _STEPS_PER_OCTAVE - 1e-9) / _STEPS_PER_OCTAVE)
    columns = np.arange(math.floor(x0 / size), math.floor(x1 / size) + 1)
    rows = np.arange(math.floor(y1 / size), math.floor(y0 / size) - 1, -1)
    return TileLattice(xs=(columns + 0.5) * size, ys=(rows + 0.5) * size, size=size)


def mosaic(images: np.ndarray, rows: int, columns: int, gap: int = 0, fill: int = 0) -> np.ndarray:
    """Images (rows * columns, H, W[, C]) laid out row by row into one image, `gap` pixels apart."""
    count, height, width = images.shape[:3]
    if count != rows * columns:
        raise VaeStudioError(
            f"a {rows}x{columns} mosaic needs {rows * columns} images, got {count}"
        )
    if gap == 0:
        grid = images.reshape(rows, columns, height, width, -1).swapaxes(1, 2)
        return grid.reshape(rows * height, columns * width, *images.shape[3:])
    out = np.full(
        (rows * (height + gap) - gap, columns * (width + gap) - gap, *images.shape[3:]),
        fill,
        dtype=images.dtype,
    )
    for index, image in enumerate(images):
        row, column = divmod(index, columns)
        top, left = row * (height + gap), column * (width + gap)
        out[top : top + height, left : left + width] = image
    return out


def linear_path(start: np.ndarray, end: np.ndarray, count: int) -> np.ndarray:
    t = np.linspace(0.0, 1.0, count)[:, None]
    return (1 - t) * start + t * end


def spherical_path(start: np.ndarray, end: np.ndarray, count: int) -> np.ndarray:
    """Slerp: along the great circle between the directions, the norm blending with the weights.

    Codes drawn from N(0, I) concentrate on a shell; slerp keeps the path near it where the
    straight line would cut through the low-density middle.
    """
    start_norm, end_norm = np.linalg.norm(start), np.linalg.norm(end)
    if start_norm < 1e-12 or end_norm < 1e-12:
        return linear_path(start, end, count)
    cosine = np.clip(start @ end / (start_norm * end_norm), -1.0, 1.0)
    angle = math.acos(cosine)
    if math.sin(angle) < 1e-6:
        return linear_path(start, end, count)
    t = np.linspace(0.0, 1.0, count)[:, None]
    return (np.sin((1 - t) * angle) * start + np.sin(t * angle) * end) / math.sin(angle)


INTERPOLATIONS: dict[str, Callable[[np.ndarray, np.ndarray, int], np.ndarray]] = {
    "linear": linear_path,
    "spherical": spherical_path,
}


def interpolate(
    start: np.ndarray, end: np.ndarray, count: int, method: str = "linear"
) -> np.ndarray:
    """`count` codes (count, D) from `start` to `end`, both ends included."""
    check_choice("interpolation", method, INTERPOLATIONS)
    if count < 2:
        raise VaeStudioError(f"an interpolation needs at least 2 frames, got {count}")
    start = np.asarray(start, dtype=np.float64)
    end = np.asarray(end, dtype=np.float64)
    return INTERPOLATIONS[method](start, end, count)


def traversal_codes(anchor: np.ndarray, dimensions: list[int], values: np.ndarray) -> np.ndarray:
    """Per dimension d, the anchor with z_d swept over `values`: (len(dimensions), K, D)."""
    anchor = np.asarray(anchor, dtype=np.float64)
    codes = np.repeat(np.repeat(anchor[None, None], len(dimensions), 0), len(values), 1)
    for row, dimension in enumerate(dimensions):
        codes[row, :, dimension] = values
    return codes


def ellipse_outline(
    mean: np.ndarray, covariance: np.ndarray, sigmas: float, points: int = 96
) -> np.ndarray:
    """The closed curve (points + 1, 2) at Mahalanobis distance `sigmas` from the mean."""
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)
    axes = eigenvectors * np.sqrt(np.clip(eigenvalues, 0.0, None))
    angle = np.linspace(0.0, 2 * math.pi, points + 1)
    circle = np.stack([np.cos(angle), np.sin(angle)])
    return np.asarray(mean) + sigmas * (axes @ circle).T


def density_levels(log_density: np.ndarray, sigmas=(1.0, 2.0, 3.0)) -> list[float]:
    """Log-density levels at exp(-k^2/2) of the peak: the k-sigma circles of a standard normal."""
    peak = float(np.max(log_density))
    return [peak - k * k / 2 for k in sigmas]


# Marching squares: for each of the 16 ways a cell's corners can lie above the level (bit 1:
# (i, j), 2: (i+1, j), 4: (i+1, j+1), 8: (i, j+1)), the pairs of edges its contour joins. Edge
# 0 runs (i, j)-(i+1, j), 1 (i+1, j)-(i+1, j+1), 2 (i+1, j+1)-(i, j+1), 3 (i, j+1)-(i, j).
_CELL_SEGMENTS = {
    1: ((3, 0),),
    2: ((0, 1),),
    3: ((3, 1),),
    4: ((1, 2),),
    5: ((3, 0), (1, 2)),
    6: ((0, 2),),
    7: ((3, 2),),
    8: ((2, 3),),
    9: ((0, 2),),
    10: ((0, 1), (2, 3)),
    11: ((1, 2),),
    12: ((1, 3),),
    13: ((0, 1),),
    14: ((0, 3),),
}
_EDGE_CORNERS = ((0, 1), (1, 2), (2, 3), (3, 0))
_CORNER_OFFSETS = np.array([[0, 0], [1, 0], [1, 1], [0, 1]])


def contour_segments(values: np.ndarray, level: float) -> np.ndarray:
    """Where a grid of values (X, Y) crosses `level`: segments as point pairs (2K, 2), in grid
    index coordinates (value [i, j] sits at (i, j)), by vectorised marching squares."""
    corners = np.stack(
        [values[:-1, :-1], values[1:, :-1], values[1:, 1:], values[:-1, 1:]]
    )  # (4, X-1, Y-1)
    case = ((corners > level) * np.array([1, 2, 4, 8])[:, None, None]).sum(0)
    pairs = []
    for cell_case, segments in _CELL_SEGMENTS.items():
        cells = np.argwhere(case == cell_case)  # (M, 2)
        if len(cells) == 0:
            continue
        cell_values = corners[:, cells[:, 0], cells[:, 1]]  # (4, M)
        for edges in segments:
            ends = []
            for edge in edges:
                first, second = _EDGE_CORNERS[edge]
                start, stop = cell_values[first], cell_values[second]
                t = (level - start) / (stop - start)
                offset = _CORNER_OFFSETS[first] + t[:, None] * (
                    _CORNER_OFFSETS[second] - _CORNER_OFFSETS[first]
                )
                ends.append(cells + offset)
            pairs.append(np.stack(ends, axis=1).reshape(-1, 2))
    return np.concatenate(pairs) if pairs else np.zeros((0, 2))


def to_uint8_images(batch) -> np.ndarray:
    """Floats in [0, 1], (N, C, H, W) -> uint8 (N, H, W) for one channel, (N, H, W, C) for colour."""
    array = np.asarray(batch)
    pixels = np.clip(array * 255.0 + 0.5, 0, 255).astype(np.uint8)
    if pixels.shape[1] == 1:
        return pixels[:, 0]
    return np.ascontiguousarray(pixels.transpose(0, 2, 3, 1))
