"""What every command group shares: settings and the review queue from the flags."""

from __future__ import annotations

import argparse

from mmgui.config import Settings

DB_HELP = "the review database (SQLAlchemy URL; default sqlite:///mmgui.db)"


def settings_of(args: argparse.Namespace) -> Settings:
    """Settings with the flags a command has (the others stay as configured)."""
    return Settings.load(
        cache_dir=getattr(args, "cache_dir", None),
        db_url=getattr(args, "db", None),
        media_dir=getattr(args, "media", None),
        models_dir=getattr(args, "models", None),
        auth_file=getattr(args, "auth", None),
    )


def review_of(args: argparse.Namespace):
    """The review queue of the flags' database, serving its active version."""
    from mmgui.serve.review import ReviewService
    from mmgui.serve.studio import Studio

    return ReviewService.open(Studio(settings_of(args)))
