"""The `easel` command: subcommands go to the CLI in core, `--self-test` to core's self-test (no Qt is
imported for either); no subcommand opens the app."""

from __future__ import annotations

import sys
from typing import Sequence

SELF_TEST = "--self-test"
CLI_COMMANDS = {"generate", "models", "info", "convert", "pose", "upscale", "-h", "--help"}


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == SELF_TEST:
        from core.self_test import main as self_test_main

        return self_test_main(args[1:])
    if args and args[0] in CLI_COMMANDS:
        from core.cli import main as cli_main

        return cli_main(args)
    from desktop.app import run_app

    return run_app(args)


if __name__ == "__main__":
    sys.exit(main())
