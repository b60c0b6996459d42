"""The ``polyface`` command's entry point, light enough that Ctrl-C while the command line and
the library are still being imported exits 130 quietly too (``cli`` imports numpy and click)."""

from __future__ import annotations

from polyface.interrupt import install_terminators, quiet_exit


def main(argv: list[str] | None = None) -> None:
    """Import the command line and run it; Ctrl-C at any moment exits 130 without a traceback
    (SIGTERM 143, SIGHUP 129)."""
    install_terminators()
    try:
        from polyface.cli import main as cli_main
    except KeyboardInterrupt:
        quiet_exit()
    cli_main(argv)
