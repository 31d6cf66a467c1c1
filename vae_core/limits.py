"""Limits on what an input may claim, checked before it is parsed or allocated: a file's text is
read only up to its limit, JSON only when its nesting is shallow, a compressed stream only until
it reaches its limit, integers only where torch and the operating system take them.

Each check raises VaeStudioError with one line naming the input and the limit."""

from __future__ import annotations

import json
import os
import stat
import zlib
from pathlib import Path
from typing import BinaryIO

from vae_core.errors import VaeStudioError

GIB = 1 << 30
# The most an array or a decompressed file may take: the documented limit on decoded data.
MAX_ARRAY_BYTES = 8 * GIB
# JSON in a checkpoint's metadata or a config: the run's config is a few kilobytes, a history's
# column names a few hundred bytes; nesting deeper than this is never ours (and Python's parser
# recurses, so a deep one would end in RecursionError).
MAX_JSON_CHARS = 1 << 20
MAX_JSON_DEPTH = 32
# Text files the user edits (configs, presets, lessons).
MAX_TEXT_BYTES = 1 << 20
# Torch and the C runtime hold these in 64-bit signed integers.
MAX_INT64 = 2**63 - 1
# torch.set_num_threads takes a C int; more threads than this is never a machine's.
MAX_THREADS = 1024
# threading.Timer and time.sleep refuse more seconds than threading.TIMEOUT_MAX; a year of
# minutes is far past any run's budget and well inside it.
MAX_MINUTES = 366 * 24 * 60
# Folders of images: deeper than this is a loop of links or a generated tree, never a data set.
MAX_FOLDER_DEPTH = 64
_READ_CHUNK = 1 << 20


def json_depth(text: str) -> int:
    """How deeply arrays and objects nest in `text` (strings skipped), without parsing it."""
    depth = deepest = 0
    in_string = escaped = False
    for character in text:
        if in_string:
            if escaped:
                escaped = False
            elif character == "\\":
                escaped = True
            elif character == '"':
                in_string = False
        elif character == '"':
            in_string = True
        elif character in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif character in "]}":
            depth -= 1
    return deepest


def check_nesting(label: str, depth: int, most: int = MAX_JSON_DEPTH) -> None:
    if depth > most:
        raise VaeStudioError(f"{label} nests {depth} levels deep, more than the {most} allowed")


def parse_json(text: str, label: str, max_chars: int = MAX_JSON_CHARS):
    """`json.loads(text)`, refused in one line when too long, too deep or not JSON."""
    if len(text) > max_chars:
        raise VaeStudioError(f"{label} holds {len(text):,} characters, more than {max_chars:,}")
    check_nesting(label, json_depth(text))
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError) as error:
        raise VaeStudioError(f"{label}: not valid JSON ({error})") from None


def check_regular_file(path: Path, what: str = "file") -> os.stat_result:
    """The file's status, refusing what is not a regular file: a FIFO blocks the reader until a
    writer comes, a device reads without end."""
    try:
        status = os.stat(path)
    except FileNotFoundError:
        raise VaeStudioError(f"{path}: {what} not found") from None
    except OSError as error:
        raise VaeStudioError(f"{path}: cannot read the {what} ({error.strerror})") from None
    if stat.S_ISDIR(status.st_mode):
        raise VaeStudioError(f"{path}: is a folder, not a {what}")
    if not stat.S_ISREG(status.st_mode):
        raise VaeStudioError(f"{path}: not a regular file (a FIFO, socket or device)")
    return status


def read_bytes_bounded(path: Path, limit: int, what: str = "file") -> bytes:
    """The file's bytes, refused before reading when it is not a regular file or its size
    (its apparent size: a sparse file reads as that many bytes) is over `limit`."""
    size = check_regular_file(path, what).st_size
    if size > limit:
        raise VaeStudioError(f"{path}: {size:,} bytes, more than the {limit:,} a {what} may take")
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except OSError as error:
        raise VaeStudioError(f"{path}: cannot read the {what} ({error.strerror})") from None
    if len(data) > limit:  # grew while read
        raise VaeStudioError(f"{path}: more than the {limit:,} bytes a {what} may take")
    return data


def read_text_bounded(path: Path, limit: int = MAX_TEXT_BYTES, what: str = "file") -> str:
    data = read_bytes_bounded(path, limit, what)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise VaeStudioError(
            f"{path}: not UTF-8 text (byte 0x{data[error.start]:02x} at offset {error.start})"
        ) from None


def gunzip_bounded(stream: BinaryIO, limit: int, label: str) -> bytes:
    """The gzip stream's content (every member of it, as gzip.decompress reads), decompressed a
    block at a time and stopped as soon as it passes `limit`: a gzip of a few megabytes can hold
    terabytes of zeros."""
    decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
    parts, size, in_member = [], 0, False
    try:
        while block := stream.read(_READ_CHUNK):
            while block:
                in_member = True
                part = decompressor.decompress(block, limit + 1 - size)
                parts.append(part)
                size += len(part)
                if size > limit:
                    raise VaeStudioError(
                        f"{label}: decompresses to more than the {limit:,} bytes allowed"
                    )
                if decompressor.eof:  # the next member, if any, starts afresh
                    block, in_member = decompressor.unused_data, False
                    decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
                else:
                    block = decompressor.unconsumed_tail
    except zlib.error as error:
        raise VaeStudioError(f"{label}: corrupt or truncated gzip data ({error})") from None
    if in_member or not parts:
        raise VaeStudioError(f"{label}: corrupt or truncated gzip data (it ends too soon)")
    return b"".join(parts)
