#!/usr/bin/env python
"""Every hostile or careless input of issues 13 and 24, tried as a user would, the outcome measured.

    python scripts/hostile_inputs.py [--only WORD]

prints a Markdown table: section, case, what the issue measured when it was filed ("before"),
what happens now ("after") and whether the case holds. A case holds when it ends in one line of
`vae-studio: error: ...` and a non-zero exit (or, where the input is fine, in a correct result),
with no traceback and no hang. Nothing reaches the network: downloads come from 127.0.0.1.
"""

from __future__ import annotations

import argparse
import hashlib
import http.server
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import hostile_common as common  # noqa: E402
from hostile_common import HUGE, Outcome, Workspace, cli, in_process  # noqa: E402
from hostile_files import CHECKPOINTS, DATA  # noqa: E402
from hostile_reliability import SECTIONS as ISSUE_24_SECTIONS  # noqa: E402

from vae_core.data import downloads  # noqa: E402
from vae_core.data.downloads import RemoteFile  # noqa: E402

# --- Downloads ---------------------------------------------------------------------------------

_BODY = bytes(range(256)) * 40
_REMOTE = RemoteFile("file.gz", len(_BODY), "sha256", hashlib.sha256(_BODY).hexdigest())


class _Mirror(http.server.BaseHTTPRequestHandler):
    """/endless/: zeros without end or length; /trickle/: a byte at a time; /to-http/ and
    /to-file/: redirects to plain http and to a file: URL."""

    def do_GET(self):
        behaviour = self.path.strip("/").split("/")[0]
        if behaviour.startswith("to-"):
            self.send_response(302)
            target = (
                f"http://{self.headers['Host']}/good/{_REMOTE.name}"
                if behaviour == "to-http"
                else "file:///etc/passwd"
            )
            self.send_header("Location", target)
            self.end_headers()
            return
        self.send_response(200)
        if behaviour != "endless":
            self.send_header("Content-Length", str(len(_BODY)))
        self.end_headers()
        try:
            while behaviour == "endless":
                self.wfile.write(bytes(1 << 16))
            for byte in _BODY[:50]:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(0.1)
        except OSError:  # the client gave up
            pass

    def log_message(self, *args):
        pass


def _download(behaviour: str) -> Outcome:
    folder = common.WORKSPACE.folder / f"download-{behaviour}"
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Mirror)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    # The deadline's floor is a minute; a trickle is shown to end at it with a floor of one second.
    floor, downloads._MIN_DEADLINE_S = downloads._MIN_DEADLINE_S, 1.0
    started = time.monotonic()
    try:
        outcome = in_process(
            lambda: str(
                downloads.download(
                    _REMOTE, folder, [f"http://127.0.0.1:{server.server_port}/{behaviour}/"]
                )
            )
        )
    finally:
        downloads._MIN_DEADLINE_S = floor
        server.shutdown()
    left = sorted(path.name for path in folder.iterdir())
    held = outcome.text.startswith("VaeStudioError") and not left
    return Outcome(
        held, f"{outcome.text} ({time.monotonic() - started:.1f} s, {len(left)} files left)"
    )


DOWNLOADS = [
    (
        "a mirror streaming an endless body",
        "filled a 300 MiB disk in 2.1 s",
        lambda: _download("endless"),
    ),
    (
        "a mirror sending a byte every 0.1 s (deadline floor set to 1 s)",
        "never trips the 30 s time-out",
        lambda: _download("trickle"),
    ),
    ("a redirect to plain http", "followed", lambda: _download("to-http")),
    ("a redirect to file:///etc/passwd", "refused as 'HTTP 302'", lambda: _download("to-file")),
]


# --- Flags, values and memory ------------------------------------------------------------------


def _train_flags(*flags) -> Outcome:
    return cli("train", "--out", common.WORKSPACE.folder / "flags", "--max-steps", 1, *flags)


FLAGS = [
    (
        f"--latent-dim {HUGE}",
        "'can't allocate memory' traceback",
        lambda: _train_flags("--latent-dim", HUGE),
    ),
    (
        f"--hidden {HUGE}",
        "'can't allocate memory' traceback",
        lambda: _train_flags("--hidden", HUGE),
    ),
    (
        f"--prior mog --prior-components {HUGE}",
        "'can't allocate memory' traceback",
        lambda: _train_flags("--prior", "mog", "--prior-components", HUGE),
    ),
    (
        f"--model vqvae --codebook-size {HUGE}",
        "'can't allocate memory' traceback",
        lambda: _train_flags("--model", "vqvae", "--codebook-size", HUGE),
    ),
    (
        f"--model vqvae --code-positions {HUGE}",
        "'can't allocate memory' traceback",
        lambda: _train_flags("--model", "vqvae", "--code-positions", HUGE),
    ),
    (
        f"--iw-samples {HUGE}",
        "'can't allocate memory' traceback",
        lambda: _train_flags("--iw-samples", HUGE),
    ),
    (
        "--iw-samples 100000 --batch-size 128",
        "'can't allocate memory' traceback",
        lambda: _train_flags("--iw-samples", 100_000, "--batch-size", 128),
    ),
    (
        f"analyze --k {HUGE}",
        "'can't allocate memory' traceback",
        lambda: cli("analyze", common.WORKSPACE.run_folder, "--k", HUGE),
    ),
    ("--seed 18446744073709551616", "'Overflow' traceback", lambda: _train_flags("--seed", 2**64)),
]


# --- Messages ----------------------------------------------------------------------------------


def _unreadable_checkpoint() -> Outcome:
    folder = common.WORKSPACE.folder / "unreadable"
    shutil.copytree(common.WORKSPACE.run_folder, folder)
    (folder / "checkpoint.safetensors").chmod(0)
    # Root reads a file of mode 000 anyway, unless it gives up the capabilities that let it.
    prefix = (
        ("setpriv", "--bounding-set=-dac_override,-dac_read_search") if os.geteuid() == 0 else ()
    )
    if prefix and not shutil.which("setpriv"):
        return Outcome(False, "not measured: running as root without setpriv")
    return cli("evaluate", folder, prefix=prefix)


def _full_disk_metrics() -> Outcome:
    if not Path("/dev/full").exists():
        return Outcome(False, "not measured: no /dev/full")
    out = common.WORKSPACE.folder / "full"
    out.mkdir()
    (out / "metrics.csv").symlink_to("/dev/full")
    return cli(
        "train", "--out", out, "--config", common.WORKSPACE.small, "--max-steps", 2, "--overwrite"
    )


def _empty_out() -> Outcome:
    folder = common.WORKSPACE.folder / "current"
    folder.mkdir()
    outcome = cli("train", "--out", "", "--max-steps", 1, cwd=folder)
    written = len(list(folder.iterdir()))
    return Outcome(
        outcome.held and not written,
        outcome.text + (f"; wrote {written} files here" if written else ""),
    )


MESSAGES = [
    (
        "a newline in a file name (evaluate 'run⏎x')",
        "the error line split in two",
        lambda: cli("evaluate", common.WORKSPACE.folder / "run\nx"),
    ),
    ("a checkpoint of mode 000", "'No such file or directory'", _unreadable_checkpoint),
    (
        "a disk filled while writing metrics.csv",
        "': No space left on device', no file",
        _full_disk_metrics,
    ),
    ('--out ""', "writes into the current folder", _empty_out),
]

SECTIONS = {
    "Checkpoints": CHECKPOINTS,
    "Data": DATA,
    "Downloads": DOWNLOADS,
    "Flags and memory": FLAGS,
    "Messages": MESSAGES,
    **ISSUE_24_SECTIONS,
}


def _kind_of_failure(outcome: Outcome) -> str:
    if outcome.text.startswith("traceback"):
        return "tracebacks"
    if outcome.text.startswith("still running"):
        return "hangs"
    return "accepted although wrong (or another outcome)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--only", metavar="WORD", help="run the cases whose section or name holds WORD"
    )
    only = (parser.parse_args().only or "").lower()
    print("| section | case | before (issue 13 or 24) | after (measured now) | holds |")
    print("|---|---|---|---|---|")
    failures: dict[str, int] = {}
    cases_run = 0
    with tempfile.TemporaryDirectory(prefix="hostile-") as folder:
        common.WORKSPACE = Workspace(Path(folder))
        for section, cases in SECTIONS.items():
            for name, before, run in cases:
                if only and only not in f"{section} {name}".lower():
                    continue
                outcome = run()
                cases_run += 1
                if not outcome.held:
                    kind = _kind_of_failure(outcome)
                    failures[kind] = failures.get(kind, 0) + 1
                cells = [
                    section,
                    name,
                    before,
                    outcome.text.replace("|", "\\|"),
                    "yes" if outcome.held else "**no**",
                ]
                print("| " + " | ".join(cells) + " |", flush=True)
    held = cases_run - sum(failures.values())
    kinds = ", ".join(f"{count} {kind}" for kind, count in failures.items()) or "none failed"
    print(f"\n{held} of {cases_run} cases hold; {kinds}.")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
