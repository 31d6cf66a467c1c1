"""A download is bounded from its first byte (issue 24): a server that trickles its status line or
its headers trips the same deadline as one that trickles its body, instead of holding the
download for as long as it likes (each byte inside the per-read time-out)."""

from __future__ import annotations

import hashlib
import socket
import threading
import time

import pytest

from vae_core.data import downloads
from vae_core.data.downloads import RemoteFile, download
from vae_core.errors import VaeStudioError

_BODY = bytes(range(256)) * 4
_REMOTE = RemoteFile("file.gz", len(_BODY), "sha256", hashlib.sha256(_BODY).hexdigest())
_STATUS = b"HTTP/1.0 200 OK\r\n"
_HEADERS = b"Content-Length: %d\r\nX-Padding: %s\r\n\r\n" % (len(_BODY), b"x" * 60)


class _TricklingServer:
    """Serves one response whose first `slow` bytes come a byte at a time, every `gap_s`."""

    def __init__(self, slow: bytes, fast: bytes, gap_s: float):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.slow, self.fast, self.gap_s = slow, fast, gap_s
        self.cut_short = False  # the client hung up before the trickle ended
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        connection, _ = self.listener.accept()
        with connection:
            connection.recv(65536)  # the request
            try:
                for byte in self.slow:
                    connection.sendall(bytes([byte]))
                    time.sleep(self.gap_s)  # the server's trickle, not the test's wait
                connection.sendall(self.fast)
            except OSError:  # the client gave up
                self.cut_short = True

    def close(self):
        self.listener.close()
        self.thread.join()


@pytest.mark.parametrize(
    "slow, fast",
    [(_STATUS, _HEADERS + _BODY), (_STATUS + _HEADERS, _BODY)],
    ids=["status-line", "headers"],
)
def test_a_server_trickling_before_the_body_trips_the_deadline(tmp_path, monkeypatch, slow, fast):
    # About 4 s of trickle against a deadline of 0.5 s; the per-read time-out (30 s) never trips.
    monkeypatch.setattr(downloads, "_MIN_DEADLINE_S", 0.5)
    server = _TricklingServer(slow, fast, gap_s=4 / len(slow))
    try:
        with pytest.raises(VaeStudioError, match="too slow") as error:
            download(_REMOTE, tmp_path, [f"http://127.0.0.1:{server.port}/"])
    finally:
        server.close()
    assert server.cut_short  # it gave up at the deadline, not once the headers were complete
    assert "\n" not in str(error.value)
    assert list(tmp_path.iterdir()) == []


def test_a_prompt_server_is_downloaded_within_the_deadline(tmp_path):
    server = _TricklingServer(b"", _STATUS + _HEADERS + _BODY, gap_s=0)
    try:
        path = download(_REMOTE, tmp_path, [f"http://127.0.0.1:{server.port}/"])
    finally:
        server.close()
    assert path.read_bytes() == _BODY
