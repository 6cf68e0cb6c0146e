"""`mmgui <command>` (or `python -m mmgui <command>`): the command-line face of the studio.

User mistakes (`MmguiError`) print one line to stderr and exit 2; bugs raise.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mmgui.cli.catalogue import add_catalogue_commands
from mmgui.cli.clips import add_clip_commands
from mmgui.cli.common import CACHE_DIR
from mmgui.cli.jobs import add_job_commands
from mmgui.cli.models import add_model_commands
from mmgui.cli.serve import add_serve_command
from mmgui.cli.users import add_user_commands
from mmgui.errors import MmguiError

COMMAND_GROUPS = (
    add_serve_command,
    add_model_commands,
    add_catalogue_commands,
    add_job_commands,
    add_user_commands,
    add_clip_commands,
)


def build_parser() -> argparse.ArgumentParser:
    """Every command, one group per module of `mmgui.cli`."""
    parser = argparse.ArgumentParser(prog=_prog(), description=__doc__, parents=[CACHE_DIR])
    commands = parser.add_subparsers(dest="command", required=True)
    for add_commands in COMMAND_GROUPS:
        add_commands(commands)
    return parser


def _prog() -> str:
    """`mmgui` when run as the installed command, else `python -m mmgui`."""
    return "mmgui" if Path(sys.argv[0]).name == "mmgui" else "python -m mmgui"


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the exit status (0, or 2 after a user error's one line)."""
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except MmguiError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0
