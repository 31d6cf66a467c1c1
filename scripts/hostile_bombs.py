"""Files that claim or hold far more than their size: gzip streams of gigabytes of zeros in a few
megabytes, a 9 GB .npz member, sparse files of 12 GB that take no disk. Written quickly: a block of
deflated zeros that ends in a full flush does not depend on what came before it, so one block
repeated makes a valid stream of any length (its trailer's checksum is never reached: a bounded
reader stops long before)."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np

_BLOCK_ZEROS = 1 << 24  # 16 MiB of zeros a block


def _deflated_zeros_block() -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(bytes(_BLOCK_ZEROS)) + compressor.flush(zlib.Z_FULL_FLUSH)


def _final_block() -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.flush(zlib.Z_FINISH)


def write_gzip_bomb(path: Path, head: bytes, zeros: int) -> None:
    """A gzip file of `head` then `zeros` zero bytes (rounded up to 16 MiB), in a few MB."""
    block = _deflated_zeros_block()
    with path.open("wb") as out:
        out.write(b"\x1f\x8b\x08\x00\0\0\0\0\x00\xff")  # gzip header: deflate, no name
        compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
        out.write(compressor.compress(head) + compressor.flush(zlib.Z_FULL_FLUSH))
        for _ in range(-(-zeros // _BLOCK_ZEROS)):
            out.write(block)
        out.write(_final_block())
        out.write(struct.pack("<II", 0, (len(head) + zeros) & 0xFFFFFFFF))


def idx_header(shape: tuple[int, ...]) -> bytes:
    return b"\0\0\x08" + bytes([len(shape)]) + struct.pack(f">{len(shape)}I", *shape)


def npy_header(shape: tuple[int, ...]) -> bytes:
    stream = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        stream, {"descr": "|u1", "fortran_order": False, "shape": shape}
    )
    return stream.getvalue()


def write_npz_bomb(path: Path, images: int) -> None:
    """An .npz whose `images` member is a true (images, 28, 28) uint8 array of zeros, deflated."""
    size = images * 28 * 28
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        with archive.open("images.npy", "w", force_zip64=True) as member:
            member.write(npy_header((images, 28, 28)))
            zeros = bytes(1 << 26)
            for start in range(0, size, len(zeros)):
                member.write(zeros[: min(len(zeros), size - start)])


def write_sparse(path: Path, head: bytes, size: int) -> None:
    """`head`, then a hole up to `size` bytes: reads as zeros, takes no disk."""
    with path.open("wb") as out:
        out.write(head)
        out.truncate(size)
