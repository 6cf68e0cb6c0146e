"""The command line, one module per command group; `mmgui/__main__.py` assembles it."""
