"""The MNIST family: IDX files, bad files, and checksummed downloads from a local server."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import http.server
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from vae_core.config import DataConfig
from vae_core.data import cache_dir, downloads, load_data, read_idx
from vae_core.data.downloads import MIRRORS_VARIABLE, DownloadCancelled, RemoteFile, file_digest
from vae_core.data.mnist_family import IDX_SOURCES, IdxSource
from vae_core.errors import VaeStudioError

REAL_MNIST = Path("/work/shared/data/mnist")
needs_real_mnist = pytest.mark.skipif(
    not REAL_MNIST.is_dir(), reason="the real MNIST files are not on this machine"
)
FILE_NAMES = [remote.name for remote in IDX_SOURCES["mnist"].files]


def idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + np.array(array.shape, dtype=">u4").tobytes()
    return header + array.astype(np.uint8).tobytes()


def write_idx_set(folder: Path, train: int = 12, test: int = 5, seed: int = 0) -> dict[str, bytes]:
    """The four gzip files of a tiny MNIST-like set; returns their bytes by file name."""
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (train, 28, 28)),
        "train-labels-idx1-ubyte.gz": np.arange(train) % 10,
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (test, 28, 28)),
        "t10k-labels-idx1-ubyte.gz": np.arange(test) % 10,
    }
    folder.mkdir(parents=True, exist_ok=True)
    contents = {}
    for name, array in arrays.items():
        contents[name] = gzip.compress(idx_bytes(array), mtime=0)
        (folder / name).write_bytes(contents[name])
    return contents


# --- IDX files ---------------------------------------------------------------------------


def test_idx_round_trip_of_a_known_array(tmp_path):
    array = np.arange(2 * 3 * 4).reshape(2, 3, 4)
    (tmp_path / "a.gz").write_bytes(gzip.compress(idx_bytes(array)))
    np.testing.assert_array_equal(read_idx(tmp_path / "a.gz"), array)


FOUR_IMAGES = idx_bytes(np.random.default_rng(0).integers(0, 256, (4, 28, 28)))


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (gzip.compress(FOUR_IMAGES)[:1000], "corrupt or truncated gzip"),
        (gzip.compress(b"\x12\x34" + FOUR_IMAGES[2:]), "bad magic number"),
        (gzip.compress(FOUR_IMAGES[:-10]), "promises 3,136 values"),
    ],
    ids=["truncated-gzip", "wrong-magic", "short-data"],
)
def test_bad_idx_files_name_the_file_and_the_problem(tmp_path, content, problem):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(content)
    with pytest.raises(VaeStudioError, match=problem) as error:
        read_idx(path)
    assert str(path) in str(error.value) and "\n" not in str(error.value)


def test_image_and_label_counts_that_disagree_are_refused(tmp_path):
    write_idx_set(tmp_path)
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(np.zeros(11))))
    with pytest.raises(
        VaeStudioError, match="12 images but train-labels-idx1-ubyte.gz has 11 labels"
    ):
        load_data(DataConfig(dataset=f"idx:{tmp_path}"))


def test_idx_folder_reads_the_four_files(tmp_path):
    write_idx_set(tmp_path / "mine", train=12, test=5)
    split = load_data(DataConfig(dataset=f"idx:{tmp_path / 'mine'}"))
    assert (len(split.train), len(split.test)) == (12, 5)
    assert split.train.name == "mine" and split.train.image_shape == (1, 28, 28)


@needs_real_mnist
def test_the_known_checksums_are_those_of_the_real_mnist_files():
    for remote in IDX_SOURCES["mnist"].files:
        assert file_digest(REAL_MNIST / remote.name, remote.algorithm) == remote.digest
        assert (REAL_MNIST / remote.name).stat().st_size == remote.size
    # The MD5s published with MNIST (torchvision's) describe the same files.
    published_md5 = [
        "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "d53e105ee54ea40749a09fcbcd1e9432",
        "9fb629c4189551a2d022fa330f9573f3",
        "ec29112dd5afa0611ce80d1b7f02629c",
    ]
    assert [file_digest(REAL_MNIST / name, "md5") for name in FILE_NAMES] == published_md5


@needs_real_mnist
def test_real_mnist_loads_from_its_data_dir_with_the_known_class_counts():
    split = load_data(DataConfig(dataset="mnist", data_dir=str(REAL_MNIST)))
    assert (len(split.train), len(split.test)) == (60_000, 10_000)
    assert split.train.image_shape == (1, 28, 28) and split.train.class_names == tuple("0123456789")
    # The digit counts of the MNIST training set, as published with it.
    counts = np.bincount(split.train.labels.numpy())
    assert counts.tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


# --- Downloads from a local server -----------------------------------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves `files` under /good/, a 404 under /missing/, half a file under /drop/, the right
    length of wrong bytes under /corrupt/, the file and more under /long/, zeros without end and
    without a length under /endless/, a byte at a time under /trickle/, and a redirect to
    /good/ over plain http under /redirect/. Every path asked for goes into `requests`."""

    files: dict[str, bytes] = {}
    requests: list[str] = []
    TRICKLE_PAUSE_S = 0.05

    def do_GET(self):
        self.requests.append(self.path)
        behaviour, _, name = self.path.strip("/").partition("/")
        if behaviour == "missing" or name not in self.files:
            self.send_error(404)
            return
        body = self.files[name]
        if behaviour == "redirect":
            self.send_response(302)
            self.send_header("Location", f"http://{self.headers['Host']}/good/{name}")
            self.end_headers()
            return
        self.send_response(200)
        if behaviour == "long":
            body += bytes(1000)
        if behaviour != "endless":
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self._send(behaviour, body)
        except OSError:  # the client gave up on an endless or trickling body
            pass

    def _send(self, behaviour: str, body: bytes) -> None:
        if behaviour in ("good", "long"):
            self.wfile.write(body)
        elif behaviour == "drop":
            self.wfile.write(body[: len(body) // 2])
            self.close_connection = True
        elif behaviour == "corrupt":
            self.wfile.write(bytes(len(body)))
        elif behaviour == "endless":
            while True:
                self.wfile.write(bytes(1 << 16))
        elif behaviour == "trickle":
            for byte in body[:100]:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(self.TRICKLE_PAUSE_S)

    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path):
    """A local server with a tiny MNIST-like set, and 'mnist' pointed at its checksums."""
    contents = write_idx_set(tmp_path / "served")
    handler = type("Handler", (_Handler,), {"files": contents, "requests": []})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    httpd.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.handler = handler
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join()


@pytest.fixture
def tiny_mnist(server, monkeypatch):
    """The 'mnist' entry with the tiny set's checksums and no built-in mirrors (no internet)."""
    files = tuple(
        RemoteFile(name, len(body), "sha256", hashlib.sha256(body).hexdigest())
        for name, body in server.handler.files.items()
    )
    monkeypatch.setitem(
        IDX_SOURCES, "mnist", IdxSource(IDX_SOURCES["mnist"].class_names, files, mirrors=())
    )
    return server


def _left_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_download_verifies_and_loads_into_the_cache_reporting_progress(tiny_mnist):
    reports = []
    split = load_data(
        DataConfig(dataset="mnist", mirrors=(f"{tiny_mnist.base}/good/",)),
        progress=lambda d, t: reports.append((d, t)),
    )
    assert (len(split.train), len(split.test)) == (12, 5)
    assert _left_in(cache_dir() / "mnist") == sorted(FILE_NAMES)
    total = sum(len(body) for body in tiny_mnist.handler.files.values())
    assert reports[-1] == (total, total)
    assert all(t == total for _, t in reports) and [d for d, _ in reports] == sorted(
        d for d, _ in reports
    )


def test_a_404_then_a_good_mirror(tiny_mnist):
    mirrors = (f"{tiny_mnist.base}/missing", f"{tiny_mnist.base}/good")
    split = load_data(DataConfig(dataset="mnist", mirrors=mirrors))
    assert len(split.train) == 12
    assert tiny_mnist.handler.requests[:2] == [
        "/missing/train-images-idx3-ubyte.gz",
        "/good/train-images-idx3-ubyte.gz",
    ]


@pytest.mark.parametrize(
    ("behaviour", "problem"),
    [("corrupt", "sha256 checksum mismatch"), ("drop", "connection closed after")],
)
def test_a_bad_download_leaves_nothing_in_the_cache(tiny_mnist, behaviour, problem):
    with pytest.raises(VaeStudioError, match=problem) as error:
        load_data(DataConfig(dataset="mnist", mirrors=(f"{tiny_mnist.base}/{behaviour}/",)))
    assert "train-images-idx3-ubyte.gz" in str(error.value) and "\n" not in str(error.value)
    assert _left_in(cache_dir() / "mnist") == []


@pytest.mark.parametrize(
    ("behaviour", "problem"),
    [
        ("long", r"the server offers [\d,]+ bytes, more than the [\d,]+ expected"),
        ("endless", "the server sent more than the"),
        ("redirect", "redirected to http://127.0.0.1:"),
    ],
)
def test_a_mirror_sending_too_much_or_redirecting_to_http_is_refused_and_the_next_one_tried(
    tiny_mnist, behaviour, problem
):
    with pytest.raises(VaeStudioError, match=problem) as error:
        load_data(DataConfig(dataset="mnist", mirrors=(f"{tiny_mnist.base}/{behaviour}/",)))
    assert "\n" not in str(
        error.value
    ) and f"{tiny_mnist.base}/{behaviour}/train-images-idx3-ubyte.gz" in str(error.value)
    assert _left_in(cache_dir() / "mnist") == []
    load_data(
        DataConfig(
            dataset="mnist", mirrors=(f"{tiny_mnist.base}/{behaviour}/", f"{tiny_mnist.base}/good/")
        )
    )
    assert _left_in(cache_dir() / "mnist") == sorted(FILE_NAMES)


def test_a_redirect_to_another_scheme_is_refused(tiny_mnist, monkeypatch):
    monkeypatch.setattr(_Handler, "do_GET", _redirect_to_a_file)
    with pytest.raises(
        VaeStudioError, match="redirected to file:///etc/passwd, which is not https: refused"
    ):
        load_data(DataConfig(dataset="mnist", mirrors=(f"{tiny_mnist.base}/good/",)))


def _redirect_to_a_file(handler):
    handler.send_response(301)
    handler.send_header("Location", "file:///etc/passwd")
    handler.end_headers()


def test_a_trickling_mirror_is_abandoned_at_its_deadline_for_the_next(tiny_mnist, monkeypatch):
    monkeypatch.setattr(downloads, "_MIN_DEADLINE_S", 0.2)
    started = time.monotonic()
    with pytest.raises(VaeStudioError, match=r"too slow: \d+ of [\d,]+ bytes in \d+ s"):
        load_data(DataConfig(dataset="mnist", mirrors=(f"{tiny_mnist.base}/trickle/",)))
    assert time.monotonic() - started < 5 and _left_in(cache_dir() / "mnist") == []
    load_data(
        DataConfig(
            dataset="mnist", mirrors=(f"{tiny_mnist.base}/trickle/", f"{tiny_mnist.base}/good/")
        )
    )
    assert _left_in(cache_dir() / "mnist") == sorted(FILE_NAMES)


def test_a_dropped_connection_then_a_good_mirror(tiny_mnist):
    load_data(
        DataConfig(
            dataset="mnist", mirrors=(f"{tiny_mnist.base}/drop/", f"{tiny_mnist.base}/good/")
        )
    )
    assert _left_in(cache_dir() / "mnist") == sorted(FILE_NAMES)


def test_an_interrupted_download_leaves_no_partial_file(tiny_mnist):
    def interrupt(done, total):
        if done:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        load_data(
            DataConfig(dataset="mnist", mirrors=(f"{tiny_mnist.base}/good/",)), progress=interrupt
        )
    assert _left_in(cache_dir() / "mnist") == []


def test_a_cancelled_download_stops_at_once_and_leaves_no_partial_file(tiny_mnist):
    def cancel(done, total):
        if done:
            raise DownloadCancelled("download cancelled")

    with pytest.raises(DownloadCancelled):
        load_data(
            DataConfig(dataset="mnist", mirrors=(f"{tiny_mnist.base}/good/",)), progress=cancel
        )
    assert _left_in(cache_dir() / "mnist") == []
    assert tiny_mnist.handler.requests == ["/good/train-images-idx3-ubyte.gz"]


def test_a_failed_download_says_which_files_go_where(tiny_mnist, tmp_path):
    folder = tmp_path / "mine"
    with pytest.raises(VaeStudioError) as error:
        load_data(
            DataConfig(
                dataset="mnist", data_dir=str(folder), mirrors=(f"{tiny_mnist.base}/missing/",)
            )
        )
    message = str(error.value)
    assert f"missing in {folder} (put the set's files there)" in message and "HTTP 404" in message
    assert all(name in message for name in FILE_NAMES) and "\n" not in message


def test_mirrors_are_tried_flag_first_then_environment_then_built_in(tiny_mnist, monkeypatch):
    monkeypatch.setitem(
        IDX_SOURCES,
        "mnist",
        dataclasses.replace(IDX_SOURCES["mnist"], mirrors=(f"{tiny_mnist.base}/good/",)),
    )
    monkeypatch.setenv(
        MIRRORS_VARIABLE, f" {tiny_mnist.base}/missing/env1 ,{tiny_mnist.base}/missing/env2"
    )
    load_data(DataConfig(dataset="mnist", mirrors=(f"{tiny_mnist.base}/missing/flag",)))
    assert tiny_mnist.handler.requests[:4] == [
        "/missing/flag/train-images-idx3-ubyte.gz",
        "/missing/env1/train-images-idx3-ubyte.gz",
        "/missing/env2/train-images-idx3-ubyte.gz",
        "/good/train-images-idx3-ubyte.gz",
    ]


def test_files_already_there_are_not_downloaded_again(tiny_mnist, tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    for name in FILE_NAMES[:2]:
        shutil.copy(tmp_path / "served" / name, folder / name)
    load_data(
        DataConfig(dataset="mnist", data_dir=str(folder), mirrors=(f"{tiny_mnist.base}/good/",))
    )
    assert tiny_mnist.handler.requests == [f"/good/{name}" for name in FILE_NAMES[2:]]
    load_data(
        DataConfig(dataset="mnist", data_dir=str(folder), mirrors=(f"{tiny_mnist.base}/good/",))
    )
    assert len(tiny_mnist.handler.requests) == 2


def test_no_mirror_at_all_says_so(tiny_mnist):
    with pytest.raises(VaeStudioError, match="missing, and no mirror to download it from"):
        load_data(DataConfig(dataset="mnist"))


def test_an_unreachable_mirror_is_reported(tiny_mnist):
    with pytest.raises(
        VaeStudioError, match="could not download train-images-idx3-ubyte.gz: http://127.0.0.1:9/"
    ):
        load_data(DataConfig(dataset="mnist", mirrors=("http://127.0.0.1:9/",)))


@needs_real_mnist
def test_the_real_mnist_files_download_and_verify_against_the_known_checksums(server, monkeypatch):
    server.handler.files = {name: (REAL_MNIST / name).read_bytes() for name in FILE_NAMES}
    monkeypatch.setitem(IDX_SOURCES, "mnist", dataclasses.replace(IDX_SOURCES["mnist"], mirrors=()))
    split = load_data(DataConfig(dataset="mnist", mirrors=(f"{server.base}/good/",)))
    assert (len(split.train), len(split.test)) == (60_000, 10_000)


@pytest.mark.parametrize("name", ["fashion-mnist", "kmnist"])
def test_the_siblings_have_their_own_checksums_class_names_and_cache_folders(
    name, server, monkeypatch
):
    source = IDX_SOURCES[name]
    assert len(source.class_names) == 10 and len(source.files) == 4 and source.mirrors
    monkeypatch.setitem(IDX_SOURCES, name, dataclasses.replace(source, mirrors=()))
    assert all(remote.algorithm == "md5" and len(remote.digest) == 32 for remote in source.files)
    assert {remote.digest for remote in source.files}.isdisjoint(
        r.digest for r in IDX_SOURCES["mnist"].files
    )
    # The tiny files are not the real ones: the published checksums refuse them.
    with pytest.raises(VaeStudioError, match="md5 checksum mismatch"):
        load_data(DataConfig(dataset=name, mirrors=(f"{server.base}/good/",)))
    assert _left_in(cache_dir() / name) == []


def _write_labels(folder: Path, start: tuple[int, ...]) -> None:
    labels = np.array([*start, 0, 1], dtype=np.uint8)
    (folder / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(labels)))


def test_mnist_files_given_as_fashion_mnist_are_named_as_mnists(tmp_path):
    write_idx_set(tmp_path)
    _write_labels(tmp_path, (5, 0, 4, 1, 9, 2, 1, 3, 1, 4))  # MNIST's first ten
    with pytest.raises(VaeStudioError, match="are mnist's, not fashion-mnist's") as error:
        load_data(DataConfig(dataset="fashion-mnist", data_dir=str(tmp_path)))
    assert str(tmp_path) in str(error.value) and "\n" not in str(error.value)
    with pytest.raises(VaeStudioError, match="are fashion-mnist's, not kmnist's"):
        _write_labels(tmp_path, (9, 0, 0, 3, 0, 2, 7, 2, 5, 5))
        load_data(DataConfig(dataset="kmnist", data_dir=str(tmp_path)))


@needs_real_mnist
def test_the_real_mnist_files_are_taken_as_mnist_and_refused_as_fashion_mnist():
    assert len(load_data(DataConfig(dataset="mnist", data_dir=str(REAL_MNIST))).test) == 10_000
    with pytest.raises(VaeStudioError, match="are mnist's"):
        load_data(DataConfig(dataset="fashion-mnist", data_dir=str(REAL_MNIST)))
