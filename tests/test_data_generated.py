"""The sets made in code: sprites with ground-truth factors, and the 2-D point clouds."""

from __future__ import annotations

import math

import pytest
import torch

from vae_core.config import DataConfig, ModelConfig
from vae_core.data import load_data
from vae_core.data.points import make_points
from vae_core.data.sprites import (
    ELLIPSE_AXES,
    GRID_SIZE,
    POSITIONS,
    ROTATIONS,
    SCALES,
    grid_factors,
    make_sprites,
    render_sprites,
)
from vae_core.errors import VaeStudioError
from vae_core.models import build_model

# The geometry the sprites are drawn with, in units of the image side (see sprites.py).
HALF_SIZE = 0.13
CENTRE_LOW, CENTRE_SPAN = 0.2, 0.6


def render_one(shape, scale=1.0, rotation=0.0, x=0.5, y=0.5, image_size=64) -> torch.Tensor:
    factors = torch.tensor([[float(shape), scale, rotation, x, y]])
    return render_sprites(factors, image_size)[0, 0].double() / 255


def area_and_moments(image: torch.Tensor):
    """Covered area in pixels, centroid (x, y) in pixels, and the variances along x and y."""
    coords = torch.arange(image.shape[0], dtype=torch.float64) + 0.5
    area = image.sum()
    mean_x = (image.sum(0) * coords).sum() / area
    mean_y = (image.sum(1) * coords).sum() / area
    var_x = (image.sum(0) * (coords - mean_x) ** 2).sum() / area
    var_y = (image.sum(1) * (coords - mean_y) ** 2).sum() / area
    return float(area), (float(mean_x), float(mean_y)), float(var_x), float(var_y)


# --- Sprites -------------------------------------------------------------------------------


def test_the_grid_is_that_of_dsprites():
    assert GRID_SIZE == 3 * 6 * 40 * 32 * 32 == 737_280
    first, second, last = grid_factors(torch.tensor([0, 1, GRID_SIZE - 1]))
    assert first.tolist() == [0.0, 0.5, 0.0, 0.0, 0.0]
    assert second.tolist() == pytest.approx([0.0, 0.5, 0.0, 0.0, 1 / 31])  # y varies fastest
    assert last.tolist() == pytest.approx([2.0, 1.0, 2 * math.pi * 39 / 40, 1.0, 1.0])


def test_a_sample_has_distinct_grid_points_labelled_by_shape():
    data = make_sprites("sprites", 3000, seed=0, image_size=32)
    assert data.images.shape == (3000, 1, 32, 32) and data.images.dtype == torch.uint8
    assert data.factor_names == ("shape", "scale", "rotation", "x", "y")
    assert len(torch.unique(data.factors, dim=0)) == 3000
    assert torch.equal(data.labels, data.factors[:, 0].long())
    assert data.class_names == ("square", "ellipse", "heart")
    for column, values in ((1, SCALES), (2, ROTATIONS), (3, POSITIONS), (4, POSITIONS)):
        assert torch.isin(data.factors[:, column], values).all()


def test_sprites_are_deterministic_from_the_seed():
    first = make_sprites("sprites", 200, seed=3, image_size=32)
    again = make_sprites("sprites", 200, seed=3, image_size=32)
    other = make_sprites("sprites", 200, seed=4, image_size=32)
    assert torch.equal(first.images, again.images) and torch.equal(first.factors, again.factors)
    assert not torch.equal(first.factors, other.factors)


def test_each_image_matches_a_fresh_render_of_its_own_factors():
    data = make_sprites("sprites", 100, seed=1, image_size=64)
    assert torch.equal(render_sprites(data.factors.flip(0), 64), data.images.flip(0))


# Two samples per pixel side put every edge at most a quarter pixel from where it should be,
# so a rendered area is exact to within a quarter pixel times the perimeter.
EDGE_ERROR = 0.25


def ellipse_perimeter(a, b):
    # Ramanujan's approximation, far more precise than the rendering.
    return math.pi * (3 * (a + b) - math.sqrt((3 * a + b) * (a + 3 * b)))


@pytest.mark.parametrize("scale", [1.0, 0.5])
def test_a_square_covers_its_area_at_any_rotation(scale):
    side = 2 * HALF_SIZE * 64 * scale  # pixels
    for rotation in (0.0, math.pi / 5, math.pi / 4):
        area, _, _, _ = area_and_moments(render_one(0, scale=scale, rotation=rotation))
        assert area == pytest.approx(side**2, abs=EDGE_ERROR * 4 * side)


@pytest.mark.parametrize("scale", [1.0, 0.5])
def test_an_ellipse_has_the_area_and_second_moments_of_its_axes(scale):
    a, b = (axis * HALF_SIZE * 64 * scale for axis in ELLIPSE_AXES)
    area, _, var_x, var_y = area_and_moments(render_one(1, scale=scale))
    assert area == pytest.approx(math.pi * a * b, abs=EDGE_ERROR * ellipse_perimeter(a, b))
    # A solid ellipse has variance a^2/4 along its major axis and b^2/4 along its minor one.
    assert (var_x, var_y) == pytest.approx((a**2 / 4, b**2 / 4), rel=0.08)
    _, _, turned_x, turned_y = area_and_moments(render_one(1, scale=scale, rotation=math.pi / 2))
    assert (turned_x, turned_y) == pytest.approx((b**2 / 4, a**2 / 4), rel=0.08)


@pytest.mark.parametrize(("x", "y"), [(0.0, 0.0), (1.0, 0.25), (0.5, 1.0)])
def test_position_moves_the_centroid_of_a_symmetric_shape(x, y):
    for shape in (0, 1):  # square and ellipse are symmetric about their centre
        _, centroid, _, _ = area_and_moments(render_one(shape, scale=0.5, rotation=0.3, x=x, y=y))
        expected = ((CENTRE_LOW + CENTRE_SPAN * x) * 64, (CENTRE_LOW + CENTRE_SPAN * y) * 64)
        assert centroid == pytest.approx(expected, abs=0.05)


def test_the_small_sprites_show_the_same_scene_at_half_the_resolution():
    large = render_one(2, rotation=1.0, x=0.3, y=0.7, image_size=64)
    small = render_one(2, rotation=1.0, x=0.3, y=0.7, image_size=32)
    assert area_and_moments(small)[0] * 4 == pytest.approx(area_and_moments(large)[0], rel=0.03)


def test_sprite_sizes_outside_the_grid_are_refused():
    for size in (0, GRID_SIZE + 1):
        with pytest.raises(VaeStudioError, match="between 1 and 737,280"):
            make_sprites("sprites", size, seed=0, image_size=32)


def test_sprites_load_by_name_with_a_seeded_split():
    split = load_data(DataConfig(dataset="sprites32", size=600, seed=2))
    assert (len(split.train), len(split.test)) == (500, 100)
    assert split.train.factors.shape == (500, 5) and split.train.info.factor_names[0] == "shape"
    again = load_data(DataConfig(dataset="sprites32", size=600, seed=2))
    assert torch.equal(split.test.factors, again.test.factors)
    assert load_data(DataConfig(dataset="sprites", size=10)).train.image_shape == (1, 64, 64)


# --- Point clouds ------------------------------------------------------------------------


def points_of(name, size=6000, seed=0):
    data = make_points(name, size, seed)
    return data, data.images.view(-1, 2).double(), data.labels


@pytest.mark.parametrize("name", ["moons", "rings", "gaussians", "spiral"])
def test_point_clouds_are_float_vectors_in_the_unit_square_with_balanced_labels(name):
    data, points, labels = points_of(name)
    assert data.images.shape == (6000, 2, 1, 1) and data.images.dtype == torch.float32
    assert not data.is_image and data.info.image_shape == (2, 1, 1)
    assert torch.bincount(labels).tolist() == [6000 // data.num_classes] * data.num_classes
    inside = ((points >= 0) & (points <= 1)).all(dim=1).double().mean()
    assert inside > 0.999
    again = make_points(name, 6000, seed=0)
    assert torch.equal(again.images, data.images)
    assert not torch.equal(make_points(name, 6000, seed=1).images, data.images)


def test_the_rings_have_radii_one_two_and_three_thirds():
    _, points, labels = points_of("rings")
    radius = (points - 0.5).norm(dim=1)
    for ring in range(3):
        assert radius[labels == ring].mean() == pytest.approx(
            0.45 * 0.95 * (ring + 1) / 3, abs=0.003
        )


def test_the_gaussians_sit_at_eight_points_of_a_circle():
    _, points, labels = points_of("gaussians", size=8000)
    for k in range(8):
        angle = 2 * math.pi * k / 8
        expected = (0.5 + 0.45 * 0.75 * math.cos(angle), 0.5 + 0.45 * 0.75 * math.sin(angle))
        component = points[labels == k]
        # Standard error of the mean is 0.45 * 0.07 / sqrt(1000), about 0.001.
        assert component.mean(0).tolist() == pytest.approx(expected, abs=0.004)
        assert component.std(0).tolist() == pytest.approx([0.45 * 0.07] * 2, rel=0.08)


def test_the_moons_are_two_half_circles():
    _, points, labels = points_of("moons")
    # Centres of the upper and lower circles, mapped as the generator maps (0, 0) and (1, 0.5).
    for moon, centre, side in ((0, (0.0, 0.0), 1.0), (1, (1.0, 0.5), -1.0)):
        mapped = torch.tensor(
            [(c - s) * 0.6 * 0.45 + 0.5 for c, s in zip(centre, (0.5, 0.25))], dtype=torch.float64
        )
        offsets = points[labels == moon] - mapped
        assert offsets.norm(dim=1).mean() == pytest.approx(0.6 * 0.45, abs=0.004)
        assert (offsets[:, 1] * side > -0.05).double().mean() > 0.97  # upper / lower half


def test_the_spiral_arms_turn_with_the_radius():
    _, points, labels = points_of("spiral")
    offsets = points - 0.5
    radius = offsets.norm(dim=1)
    outer = radius > 0.15  # near the centre the noise hides the angle
    reach = 0.45 * 0.95
    phase = (
        torch.atan2(offsets[:, 1], offsets[:, 0])
        - 3 * math.pi * radius / reach
        - labels * (2 * math.pi / 3)
    )
    mean_cosine = torch.cos(phase[outer]).mean()
    assert mean_cosine > 0.9


def test_a_point_cloud_needs_the_gaussian_likelihood_and_rejects_the_conv_architecture():
    split = load_data(DataConfig(dataset="moons", size=100))
    values, _ = split.train.batch(torch.arange(4))
    assert torch.equal(values, split.train.images[:4])  # passed through, not divided by 255
    config = ModelConfig(
        arch="conv", likelihood="gaussian", input_shape=split.train.image_shape, num_classes=2
    )
    with pytest.raises(VaeStudioError, match="divisible by 4"):
        build_model(config)


def test_glyphs_are_drawn_once_then_read_from_the_cache(monkeypatch):
    from vae_core.data import glyphs

    first = glyphs.load_glyphs(300, seed=2)
    assert glyphs.cached_glyphs_path(300, 2).is_file()
    monkeypatch.setattr(
        glyphs, "make_glyphs", lambda *_: pytest.fail("the cached glyphs were drawn again")
    )
    again = glyphs.load_glyphs(300, seed=2)
    assert torch.equal(first.images, again.images) and torch.equal(first.labels, again.labels)
    assert again.class_names == first.class_names


def test_a_damaged_glyph_cache_is_drawn_again_and_rewritten():
    from vae_core.data import glyphs

    drawn = glyphs.make_glyphs(200, seed=1)
    path = glyphs.cached_glyphs_path(200, 1)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a safetensors file")
    assert torch.equal(glyphs.load_glyphs(200, seed=1).images, drawn.images)
    assert torch.equal(
        glyphs.load_glyphs(200, seed=1).images, drawn.images
    )  # now from the rewritten file
    assert path.stat().st_size > 200 * 28 * 28


def test_glyphs_load_when_the_cache_folder_cannot_be_written(tmp_path, monkeypatch):
    from vae_core.data import glyphs

    blocker = tmp_path / "a-file"
    blocker.write_text("in the way of the cache folder")
    monkeypatch.setenv("VAE_STUDIO_CACHE_DIR", str(blocker / "cache"))
    assert torch.equal(
        glyphs.load_glyphs(100, seed=0).images, glyphs.make_glyphs(100, seed=0).images
    )
