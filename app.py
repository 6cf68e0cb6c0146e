"""`python app.py`: the mmgui studio on 127.0.0.1:7860, serving models/default (the same as
`mmgui serve`, with the same flags)."""

from __future__ import annotations

from mmgui.cli.serve import app_main

if __name__ == "__main__":
    app_main(description=__doc__)
