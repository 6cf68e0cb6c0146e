"""`python app.py`: the mmgui studio on 127.0.0.1:7860, serving models/default."""

from __future__ import annotations

import argparse

from mmgui.config import Settings
from mmgui.serve.studio import Studio
from mmgui.ui.app import build_app, launch_options


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default 7860)")
    parser.add_argument("--models", help="folder of model versions (default ./models)")
    parser.add_argument("--max-upload-mb", type=float, help="largest accepted upload")
    args = parser.parse_args()
    settings = Settings.load(
        host=args.host, port=args.port, models_dir=args.models, max_upload_mb=args.max_upload_mb
    )
    studio = Studio(settings)
    studio.load()
    build_app(studio).launch(**launch_options(settings))


if __name__ == "__main__":
    main()
