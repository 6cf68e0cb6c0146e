"""`python -m mmgui <command>`: the command-line face of the studio.

User mistakes (`MmguiError`) print one line to stderr and exit 2; bugs raise.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from mmgui.config import Settings
from mmgui.errors import MmguiError


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.load(cache_dir=getattr(args, "cache_dir", None))


def cmd_train(args: argparse.Namespace) -> None:
    from mmgui.training.train import train_version

    log = (lambda message: print(message, file=sys.stderr)) if not args.quiet else (lambda _: None)
    out = train_version(
        Path(args.data),
        args.config,
        Path(args.out),
        _settings(args),
        overwrite=args.overwrite,
        parent=args.parent,
        log=log,
    )
    print(out)


def cmd_evaluate(args: argparse.Namespace) -> None:
    from mmgui.serve.evaluate import evaluate_version, parse_modalities
    from mmgui.serve.predictor import GenrePredictor

    predictor = GenrePredictor(Path(args.model), _settings(args))
    result = evaluate_version(
        predictor, Path(args.data), args.split, parse_modalities(args.modalities)
    )
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(
        f"{result['model_version']} on {result['split']} ({result['n_items']} movies, "
        f"{'+'.join(result['modalities'])})"
    )
    from mmgui.training.metrics import SUMMARY_KEYS

    for key in SUMMARY_KEYS:
        print(f"  {key:<24} {result[key]:.4f}")


def cmd_predict(args: argparse.Namespace) -> None:
    from mmgui.serve.predictor import GenrePredictor

    predictor = GenrePredictor(Path(args.model), _settings(args))
    poster = Path(args.poster) if args.poster else None
    prediction = predictor.predict(poster, args.overview, args.title)
    if args.json:
        print(json.dumps(dataclasses.asdict(prediction), indent=2))
        return
    for notice in prediction.notices:
        print(f"note: {notice}", file=sys.stderr)
    for genre, prob in sorted(prediction.genre_probs.items(), key=lambda kv: -kv[1]):
        mark = "*" if genre in prediction.tags else " "
        print(f"{mark} {genre:<16} {prob:.3f}")


def cmd_export_backbones(args: argparse.Namespace) -> None:
    from mmgui.serve.backbones import ensure_backbone_graphs
    from mmgui.training.registry import read_model_json

    settings = _settings(args)
    meta = read_model_json(Path(args.model))
    print(ensure_backbone_graphs(meta["backbones"], settings.cache_dir))


def cmd_add_user(args: argparse.Namespace) -> None:
    import getpass

    from mmgui.serve.auth import add_user

    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else getpass.getpass()
    add_user(Path(args.auth), args.username, password, args.role)
    print(f"{args.username} ({args.role}) saved in {args.auth}")


# --- clips (issue 7) ---
def cmd_clip(args: argparse.Namespace) -> None:
    from mmgui.serve.clip import ClipAnalyser
    from mmgui.serve.predictor import GenrePredictor

    settings = _settings(args)
    affect = args.affect_model or settings.affect_model or None
    analyser = ClipAnalyser(GenrePredictor(Path(args.model), settings), affect)
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

    log = (lambda message: print(message, file=sys.stderr)) if not args.quiet else (lambda _: None)
    training = AffectTraining(slots=args.slots, epochs=args.epochs, seed=args.seed)
    out = train_affect(
        Path(args.annotations), Path(args.out), _settings(args), training, args.overwrite, log
    )
    print(out)


def add_clip_commands(commands: argparse._SubParsersAction) -> None:
    clip = commands.add_parser("clip", help="emotion line and genres of a video clip")
    clip.add_argument("path", help="the video file")
    clip.add_argument("--overview", help="guides which keyframes count for genres")
    clip.add_argument("--title")
    clip.add_argument("--model", default=str(Settings.load().default_model_dir))
    clip.add_argument("--affect-model", help="an affect version from train-affect")
    clip.add_argument("--json", action="store_true", help="print one JSON object")
    clip.set_defaults(run=cmd_clip)

    affect = commands.add_parser(
        "train-affect", help="train the emotion-line model on valence/arousal annotations"
    )
    affect.add_argument(
        "--annotations", required=True, help="CSV: clip, t_start, t_end, valence, arousal"
    )
    affect.add_argument("--out", required=True, help="the affect version folder to write")
    affect.add_argument("--slots", type=int, default=4, help="memory slots; 0: per-segment")
    affect.add_argument("--epochs", type=int, default=300)
    affect.add_argument("--seed", type=int, default=0)
    affect.add_argument("--overwrite", action="store_true", help="replace an existing folder")
    affect.add_argument("--quiet", action="store_true")
    affect.set_defaults(run=cmd_train_affect)


# --- end of clips ---


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m mmgui", description=__doc__)
    parser.add_argument("--cache-dir", help="where derived files (features, graphs) are cached")
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train a model version on a Kaggle-format folder")
    train.add_argument("--data", required=True, help="folder with movies_metadata.csv, posters/")
    train.add_argument("--config", default="fusion-add", help="name in mmgui/training/configs")
    train.add_argument("--out", required=True, help="the new version folder, e.g. models/<name>")
    train.add_argument("--parent", help="the version this one derives from")
    train.add_argument("--overwrite", action="store_true", help="replace an existing version")
    train.add_argument("--quiet", action="store_true")
    train.set_defaults(run=cmd_train)

    evaluate = commands.add_parser("evaluate", help="metrics of a version on a folder")
    evaluate.add_argument("--model", required=True)
    evaluate.add_argument("--data", required=True)
    evaluate.add_argument("--split", default="test", help="train | val | test | all")
    evaluate.add_argument("--modalities", default="poster,overview")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    evaluate.set_defaults(run=cmd_evaluate)

    predict = commands.add_parser("predict", help="genres of one poster and/or overview")
    predict.add_argument("--model", default=str(Settings.load().default_model_dir))
    predict.add_argument("--poster")
    predict.add_argument("--overview")
    predict.add_argument("--title")
    predict.add_argument("--json", action="store_true", help="print one JSON object")
    predict.set_defaults(run=cmd_predict)

    export = commands.add_parser(
        "export-backbones", help="build the backbone ONNX graphs a version needs (else first use)"
    )
    export.add_argument("--model", default=str(Settings.load().default_model_dir))
    export.set_defaults(run=cmd_export_backbones)
    add_user = commands.add_parser("add-user", help="add or update a studio login")
    add_user.add_argument("--auth", required=True, help="the users.json file")
    add_user.add_argument("--username", required=True)
    add_user.add_argument("--role", default="editor", choices=["editor", "admin"])
    add_user.add_argument("--password-stdin", action="store_true", help="read it from stdin")
    add_user.set_defaults(run=cmd_add_user)
    add_clip_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except MmguiError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
