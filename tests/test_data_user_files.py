"""The user's own data: .npz/.npy arrays and folders of PNG/JPEG images, and their bad cases."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from vae_core.config import DataConfig
from vae_core.data import load_data
from vae_core.data.user_files import load_npy, load_npz
from vae_core.data.user_images import load_image_folder
from vae_core.errors import VaeStudioError

Image = pytest.importorskip("PIL.Image")


def one_line_error(call, *args, match: str, names: Path | str) -> str:
    with pytest.raises(VaeStudioError, match=match) as error:
        call(*args)
    message = str(error.value)
    assert str(names) in message and "\n" not in message
    return message


# --- Arrays ---------------------------------------------------------------------------------


def test_npz_images_and_integer_labels(tmp_path):
    images = np.arange(6 * 4 * 4, dtype=np.uint8).reshape(6, 4, 4)
    np.savez(tmp_path / "mine.npz", images=images, labels=np.array([0, 2, 1, 2, 0, 1]))
    data = load_npz(DataConfig(), str(tmp_path / "mine.npz"))
    assert (
        data.name == "mine"
        and data.images.shape == (6, 1, 4, 4)
        and data.images.dtype == torch.uint8
    )
    assert torch.equal(data.images[:, 0], torch.from_numpy(images))
    assert data.labels.tolist() == [0, 2, 1, 2, 0, 1] and data.class_names == ("0", "1", "2")


def test_npz_with_x_and_y_string_labels_and_float_pixels(tmp_path):
    x = np.full((4, 2, 2), 0.2, dtype=np.float32)
    np.savez(tmp_path / "d.npz", x=x, y=np.array(["dog", "cat", "dog", "cat"]))
    data = load_npz(DataConfig(), str(tmp_path / "d.npz"))
    assert data.class_names == ("cat", "dog") and data.labels.tolist() == [1, 0, 1, 0]
    assert (data.images == 51).all()  # 0.2 * 255


def test_rgb_arrays_become_grayscale_by_luma_or_stay_rgb(tmp_path):
    pure = np.zeros((3, 2, 2, 3), dtype=np.uint8)
    for channel in range(3):
        pure[channel, ..., channel] = 255
    np.save(tmp_path / "rgb.npy", pure)
    gray = load_npy(DataConfig(color="grayscale"), str(tmp_path / "rgb.npy"))
    # ITU-R BT.601: 0.299 R + 0.587 G + 0.114 B.
    assert gray.images[:, 0, 0, 0].tolist() == [76, 150, 29]
    rgb = load_npy(DataConfig(color="rgb"), str(tmp_path / "rgb.npy"))
    assert rgb.images.shape == (3, 3, 2, 2) and torch.equal(
        rgb.images.permute(0, 2, 3, 1), torch.from_numpy(pure)
    )
    assert gray.class_names == ("rgb",) and gray.labels.tolist() == [0, 0, 0]


def test_grayscale_arrays_become_rgb_and_alpha_is_dropped(tmp_path):
    rgba = np.zeros((2, 2, 2, 4), dtype=np.uint8)
    rgba[..., 0], rgba[..., 3] = 200, 17
    np.save(tmp_path / "rgba.npy", rgba)
    assert load_npy(DataConfig(color="rgb"), str(tmp_path / "rgba.npy")).images[
        0, :, 0, 0
    ].tolist() == [200, 0, 0]
    np.save(tmp_path / "g.npy", np.full((2, 3, 3), 9, dtype=np.uint8))
    assert (load_npy(DataConfig(color="rgb"), str(tmp_path / "g.npy")).images == 9).all()


def test_arrays_are_resized_to_the_chosen_side(tmp_path):
    images = np.full((5, 12, 12), 140, dtype=np.uint8)
    images[:, :, 6:] = 20  # left half 140, right half 20
    np.save(tmp_path / "a.npy", images)
    data = load_npy(DataConfig(image_size=6), str(tmp_path / "a.npy"))
    assert data.images.shape == (5, 1, 6, 6)
    # Halving keeps the halves apart: pixel columns 0-2 come from 140s only, 3-5 from 20s only,
    # except where the anti-aliasing filter reaches across the middle.
    assert (data.images[:, 0, :, :2] == 140).all() and (data.images[:, 0, :, 4:] == 20).all()


def test_split_of_an_npz_through_load_data(tmp_path):
    np.savez(tmp_path / "s.npz", np.zeros((12, 4, 4), dtype=np.uint8))
    split = load_data(DataConfig(dataset=f"npz:{tmp_path / 's.npz'}", test_fraction=0.25))
    assert (len(split.train), len(split.test)) == (9, 3)


@pytest.mark.parametrize(
    ("array", "problem"),
    [
        (np.full((3, 4, 4), np.nan, dtype=np.float32), "NaN or infinite"),
        (np.zeros((3, 4), dtype=np.uint8), r"expected \(N, H, W\)"),
        (np.zeros((3, 4, 4, 5), dtype=np.uint8), r"expected \(N, H, W\)"),
        (np.zeros((0, 4, 4), dtype=np.uint8), "no images"),
        (np.full((3, 4, 4), 300, dtype=np.int32), "range from 300 to 300"),
        (np.full((3, 4, 4), 2.5), "range from 2.5 to 2.5"),
        (np.full((3, 4, 4), 1 + 2j), "not supported"),
    ],
    ids=["nan", "rank-2", "five-channels", "empty", "above-255", "float-above-1", "complex"],
)
def test_bad_arrays_name_the_file_and_the_problem(tmp_path, array, problem):
    path = tmp_path / "bad.npy"
    np.save(path, array)
    one_line_error(load_npy, DataConfig(), str(path), match=problem, names=path)


def test_bad_array_files_name_the_file_and_the_problem(tmp_path):
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"this is not numpy")
    one_line_error(
        load_npz, DataConfig(), str(garbage), match="not a readable NumPy file", names=garbage
    )
    pickled = tmp_path / "pickled.npy"
    np.save(pickled, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    one_line_error(
        load_npy, DataConfig(), str(pickled), match="not a readable NumPy file", names=pickled
    )
    missing = tmp_path / "missing.npz"
    one_line_error(load_npz, DataConfig(), str(missing), match="file not found", names=missing)
    truncated = tmp_path / "truncated.npy"
    np.save(truncated, np.zeros((50, 8, 8), dtype=np.uint8))
    truncated.write_bytes(truncated.read_bytes()[:1000])
    one_line_error(
        load_npy, DataConfig(), str(truncated), match="not a readable NumPy file", names=truncated
    )


def test_npz_labels_that_disagree_or_are_ambiguous(tmp_path):
    path = tmp_path / "l.npz"
    np.savez(path, images=np.zeros((4, 3, 3), dtype=np.uint8), labels=np.arange(3))
    one_line_error(
        load_npz, DataConfig(), str(path), match="4 images but labels of shape", names=path
    )
    np.savez(path, a=np.zeros((4, 3, 3)), b=np.zeros((4, 3, 3)))
    one_line_error(load_npz, DataConfig(), str(path), match="cannot tell which array", names=path)
    np.savez(path, images=np.zeros((2, 3, 3), dtype=np.uint8), labels=np.array([0.5, 1.0]))
    one_line_error(load_npz, DataConfig(), str(path), match="whole numbers or strings", names=path)


def test_the_wrong_kind_of_numpy_file_says_which_to_use(tmp_path):
    np.save(tmp_path / "one.npy", np.zeros((2, 3, 3), dtype=np.uint8))
    one_line_error(
        load_npz,
        DataConfig(),
        str(tmp_path / "one.npy"),
        match="use npy:",
        names=tmp_path / "one.npy",
    )
    np.savez(tmp_path / "many.npz", images=np.zeros((2, 3, 3), dtype=np.uint8))
    one_line_error(
        load_npy,
        DataConfig(),
        str(tmp_path / "many.npz"),
        match="use npz:",
        names=tmp_path / "many.npz",
    )


# --- Folders of images -------------------------------------------------------------------------


def save_image(path: Path, value, size=(8, 8), mode="L"):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, value).save(path)


def test_subfolders_become_classes(tmp_path):
    for i in range(3):
        save_image(tmp_path / "pets" / "cats" / f"c{i}.png", 10 * i)
    save_image(tmp_path / "pets" / "dogs" / "d0.jpg", 200)
    save_image(tmp_path / "pets" / "dogs" / "puppies" / "p0.png", 99)
    data = load_image_folder(DataConfig(), str(tmp_path / "pets"))
    assert data.name == "pets" and data.class_names == ("cats", "dogs")
    assert data.labels.tolist() == [0, 0, 0, 1, 1] and data.images.shape == (5, 1, 8, 8)
    assert data.images[:3, 0, 0, 0].tolist() == [0, 10, 20]  # PNG is lossless
    assert abs(int(data.images[3, 0, 0, 0]) - 200) <= 2  # JPEG nearly so on a flat image
    assert data.notes == ()


def test_images_directly_in_the_folder_form_a_class_named_after_it(tmp_path):
    save_image(tmp_path / "faces" / "a.png", 1)
    save_image(tmp_path / "faces" / "b.PNG", 2)
    (tmp_path / "faces" / ".DS_Store").write_bytes(b"\0")
    data = load_image_folder(DataConfig(), str(tmp_path / "faces"))
    assert data.class_names == ("faces",) and data.images[:, 0, 0, 0].tolist() == [1, 2]


def test_folder_images_are_resized_and_coloured_as_asked(tmp_path):
    save_image(tmp_path / "f" / "red.png", (255, 0, 0), size=(10, 6), mode="RGB")
    gray = load_image_folder(DataConfig(image_size=4), str(tmp_path / "f"))
    assert gray.images.shape == (1, 1, 4, 4) and (gray.images == 76).all()
    rgb = load_image_folder(DataConfig(image_size=4, color="rgb"), str(tmp_path / "f"))
    assert rgb.images[0, :, 1, 1].tolist() == [255, 0, 0]


def test_mixed_sizes_are_resized_to_the_most_common_with_a_note(tmp_path):
    for i in range(3):
        save_image(tmp_path / "m" / f"small{i}.png", 50, size=(6, 4))
    save_image(tmp_path / "m" / "big.png", 50, size=(12, 8))
    data = load_image_folder(DataConfig(), str(tmp_path / "m"))
    assert data.images.shape == (4, 1, 4, 6) and (data.images == 50).all()
    assert (
        len(data.notes) == 1
        and "resized 1 image(s)" in data.notes[0]
        and "big.png" in data.notes[0]
    )
    assert data.info.notes == data.notes


def test_other_files_are_skipped_with_a_note(tmp_path):
    save_image(tmp_path / "n" / "a.png", 5)
    (tmp_path / "n" / "readme.txt").write_text("hello")
    data = load_image_folder(DataConfig(), str(tmp_path / "n"))
    assert len(data) == 1 and data.notes == (
        "skipped 1 file(s) that are not PNG or JPEG, e.g. readme.txt",
    )


def test_bad_folders_name_the_folder_and_the_problem(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    one_line_error(
        load_image_folder, DataConfig(), str(empty), match="no PNG or JPEG images", names=empty
    )
    (tmp_path / "texts").mkdir()
    (tmp_path / "texts" / "notes.txt").write_text("x")
    one_line_error(
        load_image_folder,
        DataConfig(),
        str(tmp_path / "texts"),
        match="only other files, e.g. notes.txt",
        names=tmp_path / "texts",
    )
    one_line_error(
        load_image_folder,
        DataConfig(),
        str(tmp_path / "absent"),
        match="folder not found",
        names=tmp_path / "absent",
    )
    one_line_error(
        load_image_folder,
        DataConfig(),
        str(tmp_path / "texts" / "notes.txt"),
        match="not a folder",
        names="notes.txt",
    )


def test_files_that_are_not_images_name_the_file(tmp_path):
    save_image(tmp_path / "f" / "good.png", 5)
    fake = tmp_path / "f" / "fake.png"
    fake.write_bytes(b"not a png at all")
    one_line_error(
        load_image_folder, DataConfig(), str(tmp_path / "f"), match="not an image", names=fake
    )


def test_a_truncated_image_names_the_file(tmp_path):
    path = tmp_path / "f" / "cut.png"
    path.parent.mkdir()
    noise = np.random.default_rng(0).integers(0, 256, (64, 64), dtype=np.uint8)
    Image.fromarray(noise).save(path)
    path.write_bytes(path.read_bytes()[:1500])
    one_line_error(
        load_image_folder,
        DataConfig(),
        str(tmp_path / "f"),
        match="corrupt or truncated image data",
        names=path,
    )


def test_a_folder_without_permission_names_the_folder(tmp_path, monkeypatch):
    # Tests run as root, whom chmod does not stop: refuse the listing the way the OS would.
    locked = tmp_path / "top" / "locked"
    save_image(locked / "a.png", 1)
    real_scandir = os.scandir

    def scandir(path):
        if Path(path) == locked:
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    one_line_error(
        load_data,
        DataConfig(dataset=f"folder:{tmp_path / 'top'}"),
        match="permission denied",
        names=locked,
    )


def test_an_unreadable_image_names_the_file(tmp_path, monkeypatch):
    save_image(tmp_path / "f" / "secret.png", 1)
    real_open = Image.open

    def refuse(path, *args, **kwargs):
        if Path(path).name == "secret.png":
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(Image, "open", refuse)
    one_line_error(
        load_image_folder,
        DataConfig(),
        str(tmp_path / "f"),
        match="permission denied",
        names=tmp_path / "f" / "secret.png",
    )


def test_an_unknown_colour_is_refused():
    with pytest.raises(VaeStudioError, match="unknown color 'sepia'"):
        load_image_folder(DataConfig(color="sepia"), "/nowhere")


def test_a_path_names_the_data_set_that_reads_it(tmp_path):
    from test_data_mnist import write_idx_set

    from vae_core.data import data_location, dataset_for_path

    write_idx_set(tmp_path / "idx")
    (tmp_path / "pictures").mkdir()
    assert dataset_for_path(tmp_path / "idx") == f"idx:{tmp_path / 'idx'}"
    assert dataset_for_path(tmp_path / "pictures") == f"folder:{tmp_path / 'pictures'}"
    assert dataset_for_path(tmp_path / "a.NPZ") == f"npz:{tmp_path / 'a.NPZ'}"
    assert dataset_for_path(tmp_path / "b.npy") == f"npy:{tmp_path / 'b.npy'}"
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(VaeStudioError, match="not a data set"):
        dataset_for_path(tmp_path / "notes.txt")
    with pytest.raises(VaeStudioError, match="not found"):
        dataset_for_path(tmp_path / "gone")
    assert data_location(DataConfig(dataset=f"folder:{tmp_path}")) == tmp_path
    assert data_location(DataConfig(dataset="mnist", data_dir=str(tmp_path))) == tmp_path
    assert data_location(DataConfig(dataset="glyphs")) is None
