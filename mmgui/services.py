"""The composition root: the services the studio runs on, built from one `Settings`.

`mmgui serve` (and `python app.py`), the command line where it opens the review queue, and
the tests build them here, so the studio, its review queue and its model manager are wired
one way everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

from mmgui.config import Settings
from mmgui.serve.models import ModelManager
from mmgui.serve.review import ReviewService
from mmgui.serve.studio import Studio


@dataclass(frozen=True)
class Services:
    """What the studio needs: the served model, the review queue and the model versions."""

    settings: Settings
    studio: Studio  # the active model version and the actions on it
    review: ReviewService  # the review queue of `settings.db_url`, with the active model
    manager: ModelManager  # versions and training jobs: train now, promote, roll back


def build_services(settings: Settings, *, load: bool = False) -> Services:
    """Open (and migrate) the review database of `settings` and a studio serving its active
    version (the shipped default on a fresh database). `load`: load that version now (on the
    first run this also builds the backbone graphs), not at the first prediction."""
    studio = Studio(settings)
    review = ReviewService.open(studio)
    manager = review.manager
    if load:
        studio.load()
    return Services(settings, studio, review, manager)
