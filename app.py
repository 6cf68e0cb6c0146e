"""`python app.py`: the mmgui studio on 127.0.0.1:7860, serving models/default."""

from __future__ import annotations

import argparse
import signal
import sys

from mmgui.config import Settings
from mmgui.errors import MmguiError
from mmgui.serve.review import ReviewService
from mmgui.serve.studio import Studio
from mmgui.ui.app import build_app, launch_options
from mmgui.worker import spawn_worker, stop_worker


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default 7860)")
    parser.add_argument("--models", help="folder of model versions (default ./models)")
    parser.add_argument("--db", help="review-queue database URL (default sqlite:///mmgui.db)")
    parser.add_argument("--media", help="where imported posters are kept (default mmgui-media)")
    parser.add_argument(
        "--auth", help="users.json with hashed passwords (python -m mmgui add-user)"
    )
    parser.add_argument("--max-upload-mb", type=float, help="largest accepted upload")
    parser.add_argument(
        "--import-root",
        action="append",
        help="a folder admins may import from by server path (repeatable; the media folder and "
        "assets/ always are)",
    )
    parser.add_argument(
        "--auto-train-every", type=int, help="queue a finetuning job every N corrections (0: off)"
    )
    parser.add_argument(
        "--no-worker",
        action="store_true",
        help="do not start a training worker (run them elsewhere)",
    )
    args = parser.parse_args()
    try:
        settings = Settings.load(
            host=args.host,
            port=args.port,
            models_dir=args.models,
            db_url=args.db,
            media_dir=args.media,
            auth_file=args.auth,
            max_upload_mb=args.max_upload_mb,
            auto_train_every=args.auto_train_every,
            import_roots=tuple(args.import_root) if args.import_root else None,
        )
        studio = Studio(settings)
        studio.load()
        options = launch_options(settings)
        review = ReviewService.open(studio)  # opens (and migrates) the review database
        app = build_app(studio, review)
    except MmguiError as err:
        sys.exit(f"error: {err}")
    # Items a killed import left unpredicted are predicted while the studio already serves.
    review.catalogue.recover_in_background(lambda message: print(message, file=sys.stderr))
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


if __name__ == "__main__":
    main()
