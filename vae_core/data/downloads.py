"""Downloads that never leave a half-written file: mirrors tried in order, checksums verified.

A file is streamed into a uniquely named partial file beside its destination, hashed on the
way, and renamed into place only when its checksum matches; any failure removes the partial
file and moves on to the next mirror. A mirror is trusted with nothing the source table does not
say: no more bytes than the file's size, no less time per byte than a slow line needs, and no
redirect to anything but https.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import socket
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from vae_core.errors import VaeStudioError

# Called as bytes arrive: (bytes done, bytes in all). It may raise DownloadCancelled to stop.
ProgressCallback = Callable[[int, int], None]

MIRRORS_VARIABLE = "VAE_STUDIO_DATA_MIRRORS"
_CHUNK_BYTES = 1 << 16
# Seconds one read may wait for a byte.
_TIMEOUT_S = 30
# A whole file must arrive at this rate or better, though never in less than the floor: a mirror
# that trickles a byte now and then never trips the read time-out, only this.
_MIN_BYTES_PER_S = 20_000
_MIN_DEADLINE_S = 60.0


class DownloadCancelled(VaeStudioError):
    """Raised by a progress callback to stop a download: its partial file is removed, files
    completed before it stay."""


@dataclass(frozen=True)
class RemoteFile:
    name: str  # the file name under every mirror's base URL
    size: int  # bytes
    algorithm: str  # a hashlib name: "sha256", "md5"
    digest: str  # hex


def cache_dir() -> Path:
    """Where downloaded data sets live: VAE_STUDIO_CACHE_DIR, else the user's cache folder."""
    override = os.environ.get("VAE_STUDIO_CACHE_DIR")
    if override:
        return Path(override)
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local"
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "vae-studio"


def environment_mirrors() -> tuple[str, ...]:
    """Base URLs from VAE_STUDIO_DATA_MIRRORS (comma-separated)."""
    return tuple(
        url.strip() for url in os.environ.get(MIRRORS_VARIABLE, "").split(",") if url.strip()
    )


def file_digest(path: Path, algorithm: str) -> str:
    digest = hashlib.new(algorithm, usedforsecurity=False)
    with path.open("rb") as stream:
        while block := stream.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _url(base: str, name: str) -> str:
    return base.rstrip("/") + "/" + name


class _HttpsRedirectsOnly(urllib.request.HTTPRedirectHandler):
    """Follows a redirect only to an https URL: a mirror must not send the download to plain
    http, where anyone on the way may change it, or to another kind of URL (file:, ftp:)."""

    def http_error_302(self, req, fp, code, msg, headers):
        target = urllib.parse.urljoin(
            req.full_url, headers.get("Location") or headers.get("URI") or ""
        )
        if urllib.parse.urlsplit(target).scheme.lower() != "https":
            fp.close()
            raise ValueError(f"redirected to {target}, which is not https: refused")
        return super().http_error_302(req, fp, code, msg, headers)

    http_error_301 = http_error_303 = http_error_307 = http_error_308 = http_error_302


class _Deadline:
    """A download's whole time, from the connection on: when it passes, the sockets of the
    request are shut, which ends a read that is waiting for the status line, a header or the body
    (a server that sends a byte just inside each read's time-out is held to this instead)."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.started = time.monotonic()
        self.passed = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._pass)
        self._timer.daemon = True
        self._timer.start()

    def watch(self, sock: socket.socket) -> socket.socket:
        with self._lock:
            self._sockets.append(sock)
            if self.passed:
                _shut(sock)
        return sock

    def _pass(self) -> None:
        with self._lock:
            self.passed = True
            for sock in self._sockets:
                _shut(sock)

    def cancel(self) -> None:
        self._timer.cancel()

    def elapsed(self) -> float:
        return time.monotonic() - self.started


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:  # already closed
        pass


def _watched(connection_class, deadline: _Deadline):
    """`connection_class` whose sockets `deadline` watches from their creation."""

    def connection(*args, **kwargs):
        made = connection_class(*args, **kwargs)
        create = made._create_connection
        made._create_connection = lambda *a, **k: deadline.watch(create(*a, **k))
        return made

    return connection


class _WatchedHTTP(urllib.request.HTTPHandler):
    def __init__(self, deadline: _Deadline):
        super().__init__()
        self.deadline = deadline

    def http_open(self, req):
        return self.do_open(_watched(http.client.HTTPConnection, self.deadline), req)


class _WatchedHTTPS(urllib.request.HTTPSHandler):
    def __init__(self, deadline: _Deadline):
        super().__init__()
        self.deadline = deadline

    def https_open(self, req):
        return self.do_open(
            _watched(http.client.HTTPSConnection, self.deadline),
            req,
            context=self._context,
        )


def _deadline_s(size: int) -> float:
    return max(_MIN_DEADLINE_S, size / _MIN_BYTES_PER_S)


class _Transfer:
    """What has arrived of the body so far: its bytes and their running digest."""

    def __init__(self, remote: RemoteFile):
        self.done = 0
        self.digest = hashlib.new(remote.algorithm, usedforsecurity=False)


def _fetch(url: str, remote: RemoteFile, stream, progress: ProgressCallback | None) -> None:
    """Writes what `url` serves into the open binary `stream`; raises OSError or ValueError on any
    failure, "too slow" where the deadline passed (at any point from the connection on)."""
    deadline = _Deadline(_deadline_s(remote.size))
    opener = urllib.request.build_opener(
        _HttpsRedirectsOnly, _WatchedHTTP(deadline), _WatchedHTTPS(deadline)
    )
    transfer = _Transfer(remote)
    try:
        _receive(opener, url, remote, stream, progress, transfer)
    except (OSError, ValueError, http.client.HTTPException):
        if deadline.passed:
            raise _too_slow(transfer, remote, deadline) from None
        raise
    finally:
        deadline.cancel()
    if deadline.passed:  # the shut socket read as the body's end
        raise _too_slow(transfer, remote, deadline)
    if transfer.digest.hexdigest() != remote.digest:
        raise ValueError(f"{remote.algorithm} checksum mismatch")


def _too_slow(transfer: _Transfer, remote: RemoteFile, deadline: _Deadline) -> ValueError:
    return ValueError(
        f"too slow: {transfer.done:,} of {remote.size:,} bytes in {deadline.elapsed():.0f} s"
    )


def _receive(opener, url, remote: RemoteFile, stream, progress, transfer: _Transfer) -> None:
    with opener.open(url, timeout=_TIMEOUT_S) as response:
        promised = int(response.headers.get("Content-Length") or 0)
        if promised > remote.size:
            raise ValueError(
                f"the server offers {promised:,} bytes, more than the {remote.size:,} expected"
            )
        # read1 returns what has arrived; one byte past the size is enough to know the body is
        # too long.
        while block := response.read1(min(_CHUNK_BYTES, remote.size + 1 - transfer.done)):
            transfer.done += len(block)
            if transfer.done > remote.size:
                raise ValueError(f"the server sent more than the {remote.size:,} bytes expected")
            stream.write(block)
            transfer.digest.update(block)
            if progress is not None:
                progress(transfer.done, remote.size)
    # A server that drops the connection ends the stream early without an error.
    if promised and transfer.done != promised:
        raise ValueError(f"connection closed after {transfer.done:,} of {promised:,} bytes")


def _reason(error: Exception) -> str:
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code}"
    if isinstance(error, urllib.error.URLError):
        return str(error.reason)
    if isinstance(error, http.client.IncompleteRead):
        return f"connection closed after {len(error.partial):,} bytes of the last block"
    return str(error) or type(error).__name__


def download(
    remote: RemoteFile,
    folder: Path,
    mirrors: Sequence[str],
    progress: ProgressCallback | None = None,
) -> Path:
    """`folder/remote.name`, fetched from the first mirror that serves it with the right checksum.

    `progress` gets (bytes of this file done, its size); it starts again from 0 at each mirror.
    """
    if not mirrors:
        raise VaeStudioError(f"{folder / remote.name}: missing, and no mirror to download it from")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise VaeStudioError(
            f"{folder}: cannot create the download folder ({error.strerror})"
        ) from None
    destination = folder / remote.name
    failures = []
    for base in mirrors:
        url = _url(base, remote.name)
        try:
            handle = tempfile.NamedTemporaryFile(
                dir=folder, prefix=remote.name + ".", suffix=".partial", delete=False
            )
        except OSError as error:
            raise VaeStudioError(f"{folder}: cannot write there ({error.strerror})") from None
        partial_path = Path(handle.name)
        try:
            with handle:
                _fetch(url, remote, handle, progress)
            os.replace(partial_path, destination)
            return destination
        except (OSError, ValueError, http.client.HTTPException) as error:
            failures.append(f"{url}: {_reason(error)}")
            if isinstance(error, urllib.error.HTTPError):
                error.close()
        finally:
            partial_path.unlink(missing_ok=True)
    raise VaeStudioError(f"could not download {remote.name}: " + "; ".join(failures))


def download_all(
    remotes: Sequence[RemoteFile],
    folder: Path,
    mirrors: Sequence[str],
    progress: ProgressCallback | None = None,
) -> None:
    """Every file of `remotes` into `folder`; `progress` counts the bytes of all of them together."""
    total = sum(remote.size for remote in remotes)
    done_before = 0
    for remote in remotes:
        overall = (
            None if progress is None else partial(_report_overall, progress, done_before, total)
        )
        download(remote, folder, mirrors, overall)
        done_before += remote.size


def _report_overall(
    progress: ProgressCallback, offset: int, total: int, done: int, _file_size: int
) -> None:
    progress(offset + done, total)
