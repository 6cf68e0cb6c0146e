"""`mmgui train`, `evaluate`, `predict` and `export-backbones`: model versions from the
command line."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from mmgui.cli.common import JSON, MODEL, QUIET, model_dir_of, settings_of, stderr_log
from mmgui.errors import MmguiError


def _report_skipped(data_dir: Path, require_genres: bool = True) -> None:
    """Print to stderr what the Kaggle reader leaves out of `data_dir` (the training code reads
    the folder again; the metadata is small next to what training and evaluation cost)."""
    from mmgui.data.kaggle import read_kaggle

    for line in read_kaggle(data_dir, require_genres=require_genres).describe():
        print(line, file=sys.stderr)


def cmd_train(args: argparse.Namespace) -> None:
    from mmgui.training.train import train_version

    if not args.quiet:
        _report_skipped(Path(args.data))
    out = train_version(
        Path(args.data),
        args.config,
        Path(args.out),
        settings_of(args),
        overwrite=args.overwrite,
        parent=args.parent,
        log=stderr_log(args),
    )
    print(out)


def cmd_evaluate(args: argparse.Namespace) -> None:
    from mmgui.serve.evaluate import evaluate_version, parse_modalities
    from mmgui.serve.predictor import GenrePredictor

    predictor = GenrePredictor(Path(args.model), settings_of(args))
    _report_skipped(Path(args.data))
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
    from mmgui.metrics import SUMMARY_KEYS

    for key in SUMMARY_KEYS:
        print(f"  {key:<24} {result[key]:.4f}")


def cmd_predict(args: argparse.Namespace) -> None:
    from mmgui.serve.predictor import GenrePredictor

    predictor = GenrePredictor(model_dir_of(args), settings_of(args))
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
    from mmgui.serve.backbones import version_backbones
    from mmgui.versions import read_card

    version = model_dir_of(args)
    card = read_card(version)
    if card.backbones is None:
        raise MmguiError(f"{card.name} is a {card.kind} version: it names no backbones")
    print(version_backbones(version, card.backbones, settings_of(args).cache_dir))


def add_model_commands(commands: argparse._SubParsersAction) -> None:
    train = commands.add_parser(
        "train", parents=[QUIET], help="train a model version on a Kaggle-format folder"
    )
    train.add_argument("--data", required=True, help="folder with movies_metadata.csv, posters/")
    train.add_argument("--config", default="fusion-add", help="name in mmgui/training/configs")
    train.add_argument("--out", required=True, help="the new version folder, e.g. models/<name>")
    train.add_argument("--parent", help="the version this one derives from")
    train.add_argument("--overwrite", action="store_true", help="replace an existing version")
    train.set_defaults(run=cmd_train)

    evaluate = commands.add_parser(
        "evaluate", parents=[JSON], help="metrics of a version on a folder"
    )
    evaluate.add_argument("--model", required=True)
    evaluate.add_argument("--data", required=True)
    evaluate.add_argument("--split", default="test", help="train | val | test | all")
    evaluate.add_argument("--modalities", default="poster,overview")
    evaluate.set_defaults(run=cmd_evaluate)

    predict = commands.add_parser(
        "predict", parents=[MODEL, JSON], help="genres of one poster and/or overview"
    )
    predict.add_argument("--poster")
    predict.add_argument("--overview")
    predict.add_argument("--title")
    predict.set_defaults(run=cmd_predict)

    export = commands.add_parser(
        "export-backbones",
        parents=[MODEL],
        help="build the backbone ONNX graphs a version needs (else first use)",
    )
    export.set_defaults(run=cmd_export_backbones)
