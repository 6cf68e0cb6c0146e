"""The command line, one module per command group; `mmgui.cli.main` assembles it."""
