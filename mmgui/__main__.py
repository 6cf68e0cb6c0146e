"""`python -m mmgui <command>`: the command line (`mmgui.cli.main`)."""

from __future__ import annotations

import sys

from mmgui.cli.main import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
