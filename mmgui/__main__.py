"""`python -m mmgui <command>`: the command-line face of the studio.

User mistakes (`MmguiError`) print one line to stderr and exit 2; bugs raise.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from mmgui.cli.catalogue import add_catalogue_commands
from mmgui.cli.common import DB_HELP, settings_of
from mmgui.config import Settings
from mmgui.errors import MmguiError
from mmgui.serve.auth import LOCAL_USER


def _report_skipped(data_dir: Path, require_genres: bool = True) -> None:
    """Print to stderr what the Kaggle reader leaves out of `data_dir` (the training code reads
    the folder again; the metadata is small next to what training and evaluation cost)."""
    from mmgui.data.kaggle import read_kaggle

    for line in read_kaggle(data_dir, require_genres=require_genres).describe():
        print(line, file=sys.stderr)


def cmd_train(args: argparse.Namespace) -> None:
    from mmgui.training.train import train_version

    log = (lambda message: print(message, file=sys.stderr)) if not args.quiet else (lambda _: None)
    if not args.quiet:
        _report_skipped(Path(args.data))
    out = train_version(
        Path(args.data),
        args.config,
        Path(args.out),
        settings_of(args),
        overwrite=args.overwrite,
        parent=args.parent,
        log=log,
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
    from mmgui.training.metrics import SUMMARY_KEYS

    for key in SUMMARY_KEYS:
        print(f"  {key:<24} {result[key]:.4f}")


def cmd_predict(args: argparse.Namespace) -> None:
    from mmgui.serve.predictor import GenrePredictor

    predictor = GenrePredictor(Path(args.model), settings_of(args))
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

    settings = settings_of(args)
    card = read_card(Path(args.model))
    print(version_backbones(Path(args.model), card.backbones, settings.cache_dir))


def cmd_worker(args: argparse.Namespace) -> None:
    from mmgui.worker import main_loop

    main_loop(settings_of(args), once=args.once)


def cmd_queue_job(args: argparse.Namespace) -> None:
    from mmgui.store.jobs import JobQueue
    from mmgui.store.review import ReviewStore

    settings = settings_of(args)
    jobs = JobQueue(ReviewStore(settings.db_url, settings.media_dir).sessions)
    params = {"data_dir": args.data} if args.data else {}
    job_id = jobs.enqueue(args.user, args.mode, trigger="cli", **params)
    print(f"job {job_id} queued ({args.mode})")
    if args.wait:
        from mmgui.worker import wait_for

        job = wait_for(jobs, job_id, args.wait)
        print(f"job {job_id}: {job.status} {job.result_version or job.error or ''}".rstrip())


def cmd_promote(args: argparse.Namespace) -> None:
    from mmgui.serve.models import NeedsConfirmation, promote_version
    from mmgui.store.review import ReviewStore
    from mmgui.store.versions import VersionTable

    settings = settings_of(args)
    versions = VersionTable(ReviewStore(settings.db_url, settings.media_dir).sessions)
    try:
        version = promote_version(versions, settings, args.version, args.user, args.yes)
    except NeedsConfirmation as err:
        raise MmguiError(f"{err} (with --yes)") from err
    print(f"{version.name} is now the active version")


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

    settings = settings_of(args)
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
        Path(args.annotations), Path(args.out), settings_of(args), training, args.overwrite, log
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
    add_catalogue_commands(commands)

    worker = commands.add_parser("worker", help="run queued training jobs (its own process)")
    worker.add_argument("--db", help=DB_HELP)
    worker.add_argument("--media", help="where imported posters are stored")
    worker.add_argument("--models", help="the models folder (new versions go there)")
    worker.add_argument("--once", action="store_true", help="exit when the queue is empty")
    worker.set_defaults(run=cmd_worker)

    job = commands.add_parser("queue-job", help="queue a finetuning job on the corrections")
    job.add_argument("--db", help=DB_HELP)
    job.add_argument("--mode", default="heads", choices=["heads", "full"])
    job.add_argument("--data", help="the original training data (default: the version's)")
    job.add_argument("--user", default=LOCAL_USER)
    job.add_argument("--wait", type=float, help="wait up to this many seconds for a worker")
    job.set_defaults(run=cmd_queue_job)

    promote = commands.add_parser("promote", help="make a model version the active one")
    promote.add_argument("version")
    promote.add_argument("--db", help=DB_HELP)
    promote.add_argument("--models", help="the models folder the version lives in")
    promote.add_argument("--auth", help="users.json: then only its admins may promote")
    promote.add_argument(
        "--user", default=LOCAL_USER, help="who promotes (with --auth, for the role check)"
    )
    promote.add_argument(
        "--yes", action="store_true", help="promote even a version flagged as worse"
    )
    promote.set_defaults(run=cmd_promote)

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
