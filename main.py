"""VAE Studio: `python main.py` opens the window; `python main.py train|evaluate|analyze|export ...` runs headless."""

from __future__ import annotations

import sys

HEADLESS_COMMANDS = ("train", "evaluate", "analyze", "export", "-h", "--help")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in HEADLESS_COMMANDS:
        from vae_core.early_signals import run_answering_signals

        def headless() -> int:
            from vae_core.cli import main as cli_main  # torch: seconds of imports

            return cli_main(argv)

        return run_answering_signals(headless)
    from app.main_window import run_app

    return run_app(argv)


if __name__ == "__main__":
    sys.exit(main())
