"""`mmgui serve` (and `python app.py`): the studio on 127.0.0.1:7860, serving the active model
version (the shipped models/default on a fresh database), with a training worker beside it."""

from __future__ import annotations

import argparse
import signal
import sys

from mmgui.cli.common import DB, MEDIA, MODELS, settings_of
from mmgui.errors import MmguiError


def _serve_flags() -> argparse.ArgumentParser:
    flags = argparse.ArgumentParser(add_help=False, parents=[MODELS, DB, MEDIA])
    flags.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    flags.add_argument("--port", type=int, help="port (default 7860)")
    flags.add_argument("--auth", help="users.json with hashed passwords (mmgui add-user)")
    flags.add_argument("--max-upload-mb", type=float, help="largest accepted upload")
    flags.add_argument(
        "--import-root",
        action="append",
        help="a folder admins may import from by server path (repeatable; the media folder and "
        "assets/ always are)",
    )
    flags.add_argument(
        "--auto-train-every", type=int, help="queue a finetuning job every N corrections (0: off)"
    )
    flags.add_argument(
        "--no-worker",
        action="store_true",
        help="do not start a training worker (run them elsewhere)",
    )
    return flags


SERVE_FLAGS = _serve_flags()


def cmd_serve(args: argparse.Namespace) -> None:
    """Serve until Ctrl-C or SIGTERM, then stop the worker. User errors while the studio is
    being set up (a bad flag value, a missing model, an unreachable database) raise
    `MmguiError` before anything listens."""
    from mmgui.services import build_services

    settings = settings_of(
        args,
        host=args.host,
        port=args.port,
        max_upload_mb=args.max_upload_mb,
        auto_train_every=args.auto_train_every,
        import_roots=tuple(args.import_root) if args.import_root else None,
    )
    services = build_services(settings, load=True)  # opens (and migrates) the database
    from mmgui.ui.app import build_app, launch_options  # Gradio: after the quick checks
    from mmgui.worker import spawn_worker, stop_worker

    options = launch_options(settings)
    app = build_app(services.studio, services.review)
    # Items a killed import left unpredicted are predicted while the studio already serves.
    services.review.catalogue.recover_in_background(lambda message: print(message, file=sys.stderr))
    # SIGTERM (systemd, docker stop, kill) ends the studio the way Ctrl-C does: Gradio closes
    # its server on KeyboardInterrupt, and the worker is stopped below either way.
    signal.signal(signal.SIGTERM, _interrupt)
    worker = None if args.no_worker else spawn_worker(settings)
    try:
        app.launch(**options)
    finally:
        if worker is not None:
            stop_worker(worker)


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def add_serve_command(commands: argparse._SubParsersAction) -> None:
    serve = commands.add_parser(
        "serve", parents=[SERVE_FLAGS], help="run the studio (default http://127.0.0.1:7860)"
    )
    serve.set_defaults(run=cmd_serve)


def app_main(argv: list[str] | None = None, description: str | None = None) -> None:
    """`python app.py [flags]`: `mmgui serve` under the script's own name; a user error exits
    with its one line on stderr and status 1, as the script always has (the command line: 2)."""
    parser = argparse.ArgumentParser(description=description, parents=[SERVE_FLAGS])
    args = parser.parse_args(argv)
    try:
        cmd_serve(args)
    except MmguiError as err:
        sys.exit(f"error: {err}")
