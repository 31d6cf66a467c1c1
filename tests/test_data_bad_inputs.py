"""Bad inputs to the data layer end in one line of VaeStudioError (or load correctly), never a
traceback, a hang or a huge allocation."""

from __future__ import annotations

import os
import struct
import sys
import zipfile

import numpy as np
import pytest

from vae_core.config import DataConfig, RunConfig
from vae_core.data import user_images
from vae_core.data.idx import read_idx_pair
from vae_core.data.user_files import load_npy, load_npz
from vae_core.data.user_images import load_image_folder
from vae_core.errors import VaeStudioError

Image = pytest.importorskip("PIL.Image")


def one_line_error(call, *args, match: str) -> str:
    with pytest.raises(VaeStudioError, match=match) as error:
        call(*args)
    assert "\n" not in str(error.value)
    return str(error.value)


def test_sixteen_bit_images_are_scaled_to_eight_bits(tmp_path):
    ramp = np.array([[0, 257, 32896, 65535]], dtype=np.uint16)  # 0, 1, 128, 255 in 8 bits
    Image.fromarray(ramp).save(tmp_path / "ramp.png")
    with Image.open(tmp_path / "ramp.png") as written:
        assert written.mode.startswith("I")
    data = load_image_folder(DataConfig(), str(tmp_path))
    assert data.images.flatten().tolist() == [0, 1, 128, 255]


def test_thirty_two_bit_gray_images_are_scaled_as_sixteen_bit():
    # Older Pillow reads 16-bit PNGs in mode "I"; PNG cannot write that mode, so built in memory.
    wide = Image.fromarray(np.array([[0, 32896, 65535]], dtype=np.int32), mode="I")
    assert wide.mode == "I"
    assert np.asarray(user_images._eight_bit(wide)).flatten().tolist() == [0, 128, 255]


@pytest.mark.skipif(sys.platform == "win32", reason="no FIFOs on Windows")
def test_a_fifo_named_like_an_image_is_skipped_with_a_note(tmp_path):
    Image.fromarray(np.zeros((4, 4), dtype=np.uint8)).save(tmp_path / "real.png")
    os.mkfifo(tmp_path / "x.png")
    data = load_image_folder(DataConfig(), str(tmp_path))
    assert len(data) == 1
    assert "not regular files" in data.notes[0] and "x.png" in data.notes[0]


@pytest.mark.skipif(sys.platform == "win32", reason="no FIFOs on Windows")
def test_a_fifo_given_as_an_array_file_is_refused(tmp_path):
    os.mkfifo(tmp_path / "x.npy")
    one_line_error(
        load_npy, DataConfig(), str(tmp_path / "x.npy"), match="x.npy: not a regular file"
    )


def test_huge_images_are_refused_before_decoding(tmp_path, monkeypatch):
    for name in ("a.png", "b.png"):
        Image.new("L", (5000, 5000)).save(tmp_path / name)

    def must_not_decode(*args):
        raise AssertionError("decoded before the size was checked")

    monkeypatch.setattr(user_images, "_decode", must_not_decode)
    message = one_line_error(load_image_folder, DataConfig(), str(tmp_path), match="5000x5000")
    assert "--image-size" in message


def test_too_much_decoded_data_is_refused_with_the_size(tmp_path, monkeypatch):
    Image.new("L", (8, 8)).save(tmp_path / "a.png")
    monkeypatch.setattr("vae_core.data.user_files.MAX_DECODED_BYTES", 10)
    one_line_error(load_image_folder, DataConfig(), str(tmp_path), match="GiB decoded, more than")


def test_a_decompression_bomb_is_refused(tmp_path, monkeypatch):
    Image.new("L", (20, 20)).save(tmp_path / "bomb.png")
    for limit in (100, 300):  # beyond twice the limit Pillow raises, below it only warns
        monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", limit)
        one_line_error(
            load_image_folder, DataConfig(), str(tmp_path), match="bomb.png: .*decompression bomb"
        )


@pytest.mark.parametrize("source", ["npy", "folder"])
def test_an_absurd_image_size_is_refused(tmp_path, source):
    np.save(tmp_path / "a.npy", np.zeros((2, 4, 4), dtype=np.uint8))
    Image.new("L", (4, 4)).save(tmp_path / "a.png")
    config = DataConfig(image_size=100000)
    load = load_npy if source == "npy" else load_image_folder
    location = str(tmp_path / "a.npy") if source == "npy" else str(tmp_path)
    one_line_error(
        load, config, location, match="image size must be from 1 to 2048 pixels, got 100000"
    )


def test_empty_arrays_are_refused(tmp_path):
    np.save(tmp_path / "none.npy", np.zeros((0, 28, 28), dtype=np.uint8))
    np.save(tmp_path / "flat.npy", np.zeros((3, 0, 28), dtype=np.uint8))
    one_line_error(
        load_npy,
        DataConfig(),
        str(tmp_path / "none.npy"),
        match=r"none.npy: holds no images .*\(0, 28, 28\)",
    )
    one_line_error(
        load_npy, DataConfig(), str(tmp_path / "flat.npy"), match="flat.npy: holds no images"
    )


def test_an_idx_file_with_no_images_is_refused(tmp_path):
    (tmp_path / "images").write_bytes(b"\0\0\x08\x03" + struct.pack(">III", 0, 28, 28))
    (tmp_path / "labels").write_bytes(b"\0\0\x08\x01" + struct.pack(">I", 0))
    one_line_error(
        read_idx_pair, tmp_path / "images", tmp_path / "labels", match="images: holds no images"
    )


def test_a_zip_without_arrays_given_as_npz_is_refused(tmp_path):
    with zipfile.ZipFile(tmp_path / "notes.npz", "w") as archive:
        archive.writestr("readme.txt", "no arrays here")
    one_line_error(
        load_npz,
        DataConfig(),
        str(tmp_path / "notes.npz"),
        match="'readme.txt' is not a NumPy array",
    )


def test_a_binary_file_as_config_is_refused(tmp_path):
    (tmp_path / "run.toml").write_bytes(bytes(range(256)))
    one_line_error(RunConfig.from_file, tmp_path / "run.toml", match="run.toml is not UTF-8 text")


def test_large_sparse_labels_are_renumbered_with_a_note(tmp_path):
    images = np.zeros((3, 4, 4), dtype=np.uint8)
    np.savez(tmp_path / "sparse.npz", images=images, labels=np.array([10**6, 0, 10**6]))
    data = load_npz(DataConfig(), str(tmp_path / "sparse.npz"))
    assert data.class_names == ("0", "1000000")
    assert data.labels.tolist() == [1, 0, 1]
    assert "numbered 0 to 1" in data.notes[0]


def test_too_many_classes_are_refused(tmp_path, monkeypatch):
    monkeypatch.setattr("vae_core.data.user_files.MAX_CLASSES", 2)
    np.savez(
        tmp_path / "many.npz",
        images=np.zeros((3, 4, 4), dtype=np.uint8),
        labels=np.array([0, 10**6, 2**40]),
    )
    one_line_error(
        load_npz,
        DataConfig(),
        str(tmp_path / "many.npz"),
        match="3 classes, more than the 2 allowed",
    )
