"""`mmgui clip` and `train-affect`: a clip's emotion line and genres, and the model that
draws the line."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mmgui.cli.common import JSON, MODEL, QUIET, model_dir_of, settings_of, stderr_log


def cmd_clip(args: argparse.Namespace) -> None:
    from mmgui.serve.clip import ClipAnalyser
    from mmgui.serve.predictor import GenrePredictor

    settings = settings_of(args)
    affect = args.affect_model or settings.affect_model or None
    analyser = ClipAnalyser(GenrePredictor(model_dir_of(args), settings), affect)
    analysis = analyser.analyse(Path(args.path), args.overview, args.title)
    if args.json:
        print(json.dumps(analysis.to_json(), indent=2))
        return
    for notice in analysis.notices:
        print(f"note: {notice}", file=sys.stderr)
    tags = ", ".join(analysis.tags) or "none"
    print(f"{analysis.duration:.1f} s in {analysis.seconds:.2f} s; tags: {tags}")
    for segment in analysis.segments:
        print(
            f"  {segment.t_start:6.1f}–{segment.t_end:6.1f} s  valence {segment.valence:+.2f}"
            f"  arousal {segment.arousal:+.2f}"
        )


def cmd_train_affect(args: argparse.Namespace) -> None:
    from mmgui.training.affect import AffectTraining, train_affect

    training = AffectTraining(slots=args.slots, epochs=args.epochs, seed=args.seed)
    out = train_affect(
        Path(args.annotations),
        Path(args.out),
        settings_of(args),
        training,
        args.overwrite,
        stderr_log(args),
    )
    print(out)


def add_clip_commands(commands: argparse._SubParsersAction) -> None:
    clip = commands.add_parser(
        "clip", parents=[MODEL, JSON], help="emotion line and genres of a video clip"
    )
    clip.add_argument("path", help="the video file")
    clip.add_argument("--overview", help="guides which keyframes count for genres")
    clip.add_argument("--title")
    clip.add_argument("--affect-model", help="an affect version from train-affect")
    clip.set_defaults(run=cmd_clip)

    affect = commands.add_parser(
        "train-affect",
        parents=[QUIET],
        help="train the emotion-line model on valence/arousal annotations",
    )
    affect.add_argument(
        "--annotations", required=True, help="CSV: clip, t_start, t_end, valence, arousal"
    )
    affect.add_argument("--out", required=True, help="the affect version folder to write")
    affect.add_argument("--slots", type=int, default=4, help="memory slots; 0: per-segment")
    affect.add_argument("--epochs", type=int, default=300)
    affect.add_argument("--seed", type=int, default=0)
    affect.add_argument("--overwrite", action="store_true", help="replace an existing folder")
    affect.set_defaults(run=cmd_train_affect)
