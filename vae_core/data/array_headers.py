"""What an .npy or .npz file claims, checked before NumPy reads it: NumPy allocates the array its
header describes before reading a byte of it, so a header that claims a petabyte ends in the
allocator, and a zip member of a few kilobytes can decompress to gigabytes.

Every array is held to `limits.MAX_ARRAY_BYTES` (the documented 8 GiB), to the bytes its file (or
its zip member) holds, and an archive's members together to the same limit."""

from __future__ import annotations

import math
import zipfile
from pathlib import Path
from typing import BinaryIO

import numpy as np

from vae_core import limits
from vae_core.errors import VaeStudioError

_ZIP_MAGIC = b"PK\x03\x04"
# NumPy's own bound on a header (numpy.lib.format's default max_header_size).
_MAX_HEADER_BYTES = 10_000


def check_array_file(path: Path) -> None:
    """Refuses an .npy or .npz whose arrays, as their headers claim them, are larger than the
    limit or than what the file holds. Other files pass unread, for np.load to name."""
    try:
        with path.open("rb") as handle:
            magic = handle.read(len(_ZIP_MAGIC))
            handle.seek(0)
            if magic == _ZIP_MAGIC:
                _check_archive(path, handle)
            elif magic.startswith(np.lib.format.MAGIC_PREFIX[:4]):
                claimed = _claimed_bytes(handle, str(path))
                _check_claim(str(path), claimed, path.stat().st_size - handle.tell())
    # zipfile raises NotImplementedError for a version or a compression it lacks, RuntimeError
    # for an encrypted member, ValueError for a name it cannot decode.
    except (
        OSError,
        EOFError,
        ValueError,
        RuntimeError,
        NotImplementedError,
        zipfile.BadZipFile,
    ) as error:
        reason = " ".join(str(error).split()) or type(error).__name__
        raise VaeStudioError(f"{path}: not a readable NumPy file ({reason})") from None


def _check_archive(path: Path, handle: BinaryIO) -> None:
    total = 0
    with zipfile.ZipFile(handle) as archive:
        for member in archive.infolist():
            total += member.file_size
            label = f"{path}: member {member.filename}"
            if total > limits.MAX_ARRAY_BYTES:
                raise VaeStudioError(
                    f"{label} takes the archive past the {_gib(limits.MAX_ARRAY_BYTES)} allowed"
                )
            if not member.filename.endswith(".npy"):
                continue
            with archive.open(member) as stream:
                claimed = _claimed_bytes(stream, label)
                _check_claim(label, claimed, member.file_size - stream.tell())


def _claimed_bytes(stream: BinaryIO, label: str) -> int:
    try:
        version = np.lib.format.read_magic(stream)
        read_header = (
            np.lib.format.read_array_header_1_0
            if version == (1, 0)
            else np.lib.format.read_array_header_2_0
        )
        shape, _fortran, dtype = read_header(stream, max_header_size=_MAX_HEADER_BYTES)
    except Exception as error:
        # NumPy evaluates the header's Python literal with its tokenizer, which raises
        # ValueError, SyntaxError, TypeError or tokenize.TokenError by what the bytes hold.
        raise VaeStudioError(
            f"{label}: not a readable NumPy header ({' '.join(str(error).split())})"
        ) from None
    return math.prod(shape) * np.dtype(dtype).itemsize


def _check_claim(label: str, claimed: int, held: int) -> None:
    if claimed > limits.MAX_ARRAY_BYTES:
        raise VaeStudioError(
            f"{label}: its header claims an array of {claimed:,} bytes, more than the "
            f"{_gib(limits.MAX_ARRAY_BYTES)} allowed"
        )
    if claimed > held:
        raise VaeStudioError(
            f"{label}: not a readable NumPy file (truncated: its header claims {claimed:,} bytes,"
            f" the file holds only {held:,})"
        )


def _gib(size: int) -> str:
    return f"{size / limits.GIB:g} GiB"
