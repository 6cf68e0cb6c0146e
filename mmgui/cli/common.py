"""What every command group shares: the common flags (as argparse parent parsers, each
declared once), settings and the review queue from them, and the log to stderr."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from mmgui.config import Settings

DB_HELP = "the review database (SQLAlchemy URL; default sqlite:///mmgui.db)"


def _flag(*names: str, **options: object) -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(*names, **options)
    return parent


# Parent parsers: `commands.add_parser(name, parents=[DB, MEDIA])`.
DB = _flag("--db", help=DB_HELP)
MEDIA = _flag("--media", help="where imported posters and clips are stored (default mmgui-media)")
MODELS = _flag("--models", help="the folder of model versions (default: the shipped models/)")
# Given before the command: `python -m mmgui --cache-dir DIR train ...`.
CACHE_DIR = _flag("--cache-dir", help="where derived files (features, graphs) are cached")
MODEL = _flag("--model", help="a model version folder (default: the models folder's default)")
JSON = _flag("--json", action="store_true", help="print one JSON object")
QUIET = _flag("--quiet", action="store_true")


def settings_of(args: argparse.Namespace, **overrides: object) -> Settings:
    """Settings with the common flags a command has, and `overrides` (None: as configured)."""
    return Settings.load(
        cache_dir=getattr(args, "cache_dir", None),
        db_url=getattr(args, "db", None),
        media_dir=getattr(args, "media", None),
        models_dir=getattr(args, "models", None),
        auth_file=getattr(args, "auth", None),
        **overrides,
    )


def model_dir_of(args: argparse.Namespace) -> Path:
    """The version folder `--model` names, else the default version of the models folder."""
    return Path(args.model) if args.model else settings_of(args).default_model_dir


def review_of(args: argparse.Namespace):
    """The review queue of the flags' database, serving its active version."""
    from mmgui.services import build_services

    return build_services(settings_of(args)).review


def stderr_log(args: argparse.Namespace) -> Callable[[str], None]:
    """Progress lines to stderr, or nowhere with `--quiet`."""
    if args.quiet:
        return lambda _: None
    return lambda message: print(message, file=sys.stderr)
