"""Every input is read with limits before it is parsed (issue 24): array headers against the
documented 8 GiB, compressed streams stopped at the limit while they decompress, sparse files by
the size they read as, folder depth and loops of links, class counts. Each ends in one line of
VaeStudioError, never a traceback, a hang or an allocation the size of the claim."""

from __future__ import annotations

import gzip
import io
import os
import struct
import zipfile

import numpy as np
import pytest

from vae_core import limits
from vae_core.config import DataConfig
from vae_core.data.idx import read_idx
from vae_core.data.user_files import load_npy, load_npz
from vae_core.data.user_images import load_image_folder
from vae_core.errors import VaeStudioError
from vae_core.limits import gunzip_bounded, json_depth, parse_json

Image = pytest.importorskip("PIL.Image")


def one_line_error(call, *args, match: str) -> str:
    with pytest.raises(VaeStudioError, match=match) as error:
        call(*args)
    assert "\n" not in str(error.value)
    return str(error.value)


def _npy_header(shape: tuple[int, ...], dtype: str = "|u1") -> bytes:
    """The header numpy writes for an array of `shape`, with no data after it."""
    stream = io.BytesIO()
    header = {"descr": dtype, "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_1_0(stream, header)
    return stream.getvalue()


def test_an_npy_whose_header_claims_a_petabyte_is_refused_from_the_header(tmp_path):
    path = tmp_path / "claims.npy"
    path.write_bytes(_npy_header((10**15 // 784, 28, 28)) + bytes(64))
    message = one_line_error(load_npy, DataConfig(), str(path), match="claims")
    assert "8 GiB" in message


def test_an_npy_whose_header_claims_more_than_the_file_holds_is_refused(tmp_path):
    path = tmp_path / "short.npy"
    path.write_bytes(_npy_header((100, 28, 28)) + bytes(784))
    one_line_error(load_npy, DataConfig(), str(path), match="holds only")


def test_a_sparse_npy_past_the_limit_is_refused_without_reading_it(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_ARRAY_BYTES", 1 << 20)
    path = tmp_path / "sparse.npy"
    with path.open("wb") as handle:
        handle.write(_npy_header((4096, 28, 28)))
        handle.truncate(4096 * 784 + 128)  # a hole: takes no disk, reads as zeros
    one_line_error(load_npy, DataConfig(), str(path), match="claims")


def test_an_npz_member_that_decompresses_past_the_limit_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_ARRAY_BYTES", 1 << 20)
    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("images.npy", _npy_header((4096, 28, 28)) + bytes(4096 * 784))
    assert path.stat().st_size < 100_000
    one_line_error(load_npz, DataConfig(), str(path), match="images.npy")


def test_an_npz_member_that_lies_about_its_size_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_ARRAY_BYTES", 1 << 20)
    path = tmp_path / "liar.npz"
    content = _npy_header((4096, 28, 28)) + bytes(4096 * 784)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("images.npy", content)
    # The directory's sizes rewritten to 1 KiB: the member's own header still claims 3 MiB.
    raw = bytearray(path.read_bytes())
    for size in struct.pack("<I", len(content)), struct.pack("<I", len(content)):
        at = raw.find(size)
        while at != -1:
            raw[at : at + 4] = struct.pack("<I", 1024)
            at = raw.find(size, at + 4)
    path.write_bytes(bytes(raw))
    with pytest.raises(VaeStudioError) as error:
        load_npz(DataConfig(), str(path))
    assert "\n" not in str(error.value)


def test_a_gzip_idx_whose_header_claims_too_much_is_refused_from_the_header(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_ARRAY_BYTES", 1 << 20)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    header = b"\0\0\x08\x03" + struct.pack(">III", 100_000, 28, 28)
    path.write_bytes(gzip.compress(header + bytes(100_000 * 784), compresslevel=1))
    one_line_error(read_idx, path, match="header claims 78,400,016 bytes")


def test_a_gzip_idx_bomb_stops_decompressing_just_past_its_header_claim(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    header = b"\0\0\x08\x03" + struct.pack(">III", 3, 28, 28)
    path.write_bytes(gzip.compress(header + bytes(100_000 * 784), compresslevel=1))
    message = one_line_error(read_idx, path, match="decompresses to more than the 2,368 bytes")
    assert str(path) in message


def test_a_sparse_uncompressed_idx_past_the_limit_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_ARRAY_BYTES", 1 << 20)
    path = tmp_path / "train-images-idx3-ubyte"
    with path.open("wb") as handle:
        handle.write(b"\0\0\x08\x03" + struct.pack(">III", 4096, 28, 28))
        handle.truncate(16 + 4096 * 784)
    one_line_error(read_idx, path, match="more than")


def test_the_bounded_gunzip_reads_every_member_of_a_stream(tmp_path):
    path = tmp_path / "two.gz"
    path.write_bytes(gzip.compress(b"abc") + gzip.compress(b"def"))
    with path.open("rb") as handle:
        assert gunzip_bounded(handle, 100, str(path)) == b"abcdef"


def test_a_truncated_gzip_is_refused(tmp_path):
    path = tmp_path / "cut.gz"
    path.write_bytes(gzip.compress(bytes(1000))[:-12])
    with path.open("rb") as handle:
        with pytest.raises(VaeStudioError, match="truncated"):
            gunzip_bounded(handle, 10_000, str(path))


@pytest.fixture
def folder_1100_deep(tmp_path):
    """tmp_path/deep/d/d/.../d, 1100 levels; removed level by level afterwards (pytest's own
    clean-up recurses and would end in RecursionError)."""
    here = os.getcwd()
    os.chdir(tmp_path)
    try:
        os.mkdir("deep")
        os.chdir("deep")
        # Relative steps: the full path passes the system's limit on a path's length.
        for _ in range(1100):
            os.mkdir("d")
            os.chdir("d")
        yield tmp_path
        for _ in range(1100):
            os.chdir("..")
            os.rmdir("d")
    finally:
        os.chdir(here)


def test_a_folder_of_images_1100_levels_deep_is_refused(folder_1100_deep):
    Image.new("L", (4, 4)).save(folder_1100_deep / "top.png")
    one_line_error(load_image_folder, DataConfig(), str(folder_1100_deep), match="levels deep")


def test_a_loop_of_links_in_a_folder_of_images_is_read_once(tmp_path):
    (tmp_path / "a").mkdir()
    Image.new("L", (4, 4)).save(tmp_path / "a" / "x.png")
    (tmp_path / "a" / "loop").symlink_to(tmp_path / "a")
    data = load_image_folder(DataConfig(), str(tmp_path))
    assert len(data.images) == 1


def test_a_folder_with_more_classes_than_the_limit_is_refused(tmp_path, monkeypatch):
    from vae_core.data import user_files

    monkeypatch.setattr(user_files, "MAX_CLASSES", 5)
    for index in range(6):
        (tmp_path / f"class{index}").mkdir()
        Image.new("L", (4, 4)).save(tmp_path / f"class{index}" / "x.png")
    one_line_error(load_image_folder, DataConfig(), str(tmp_path), match="6 classes")


def test_json_depth_skips_brackets_inside_strings():
    assert json_depth('{"a": [1, {"b": "[[[[{"}]}') == 3
    assert json_depth("[]") == 1
    assert json_depth('"[["') == 0


def test_deeply_nested_json_is_refused_before_parsing():
    with pytest.raises(VaeStudioError, match="levels deep"):
        parse_json("[" * 100_000 + "]" * 100_000, "history")


def test_a_huge_json_text_is_refused_before_parsing():
    with pytest.raises(VaeStudioError, match="characters"):
        parse_json("[" + "1," * 10**6 + "1]", "history")


def test_a_metrics_file_that_is_a_fifo_is_refused_without_blocking(tmp_path):
    from vae_core.metrics_reader import MetricsTail

    os.mkfifo(tmp_path / "metrics.csv")
    with pytest.raises(VaeStudioError, match="not a regular file"):
        MetricsTail(tmp_path / "metrics.csv").read()


def test_a_metrics_file_is_read_a_bounded_chunk_at_a_time(tmp_path, monkeypatch):
    from vae_core import metrics_reader
    from vae_core.metrics_reader import MetricsTail

    monkeypatch.setattr(metrics_reader, "MAX_READ_BYTES", 64)
    path = tmp_path / "metrics.csv"
    path.write_text("step,loss\n" + "".join(f"{step},{step / 10}\n" for step in range(1, 41)))
    tail = MetricsTail(path)
    counts = [len(tail.read().rows) for _ in range(60)]
    assert max(counts) <= 64 // 6 and sum(counts) == 40


def test_infinite_values_in_metrics_read_as_not_measured(tmp_path):
    from vae_core.metrics_columns import METRICS_COLUMNS
    from vae_core.metrics_reader import MetricsTail

    path = tmp_path / "metrics.csv"
    path.write_text("step,loss\n1,inf\n2,-1e999\n3,2.5\n")
    rows = MetricsTail(path).read().rows
    loss = rows[:, METRICS_COLUMNS.index("loss")]
    assert np.isnan(loss[:2]).all() and loss[2] == 2.5
