import gzip

import numpy as np
import pytest

from vae_core.data.idx import load_idx_folder, read_idx
from vae_core.errors import VaeStudioError


def _idx_bytes(array: np.ndarray, element_type: int = 0x08) -> bytes:
    header = bytes([0, 0, element_type, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape
    )
    return header + array.astype(np.uint8).tobytes()


def test_reads_what_was_written_plain_and_gzipped(tmp_path):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "plain").write_bytes(_idx_bytes(array))
    (tmp_path / "packed.gz").write_bytes(gzip.compress(_idx_bytes(array)))
    assert np.array_equal(read_idx(tmp_path / "plain"), array)
    assert np.array_equal(read_idx(tmp_path / "packed.gz"), array)


@pytest.mark.parametrize(
    "content, message",
    [
        (gzip.compress(_idx_bytes(np.zeros((5, 4, 4))))[:-12], "corrupt or truncated gzip"),
        (b"\x08\x03" + _idx_bytes(np.zeros((2, 2, 2)))[2:], "bad magic number"),
        (_idx_bytes(np.zeros((2, 2, 2)), element_type=0x0D), "element type 0x0d is not supported"),
        (_idx_bytes(np.zeros((3, 2, 2)))[:-1], "promises 12 values"),
    ],
)
def test_bad_files_name_the_file_and_the_problem(tmp_path, content, message):
    path = tmp_path / "images.gz"
    path.write_bytes(content)
    with pytest.raises(VaeStudioError, match=message) as error:
        read_idx(path)
    assert str(path) in str(error.value)


def test_count_mismatch_between_images_and_labels(tmp_path):
    for prefix, count in (("train", 4), ("t10k", 2)):
        (tmp_path / f"{prefix}-images-idx3-ubyte").write_bytes(_idx_bytes(np.zeros((count, 4, 4))))
        (tmp_path / f"{prefix}-labels-idx1-ubyte").write_bytes(
            _idx_bytes(np.zeros(count + (prefix == "t10k")))
        )
    with pytest.raises(VaeStudioError, match="2 images but t10k-labels-idx1-ubyte has 3 labels"):
        load_idx_folder("tiny", tmp_path)
