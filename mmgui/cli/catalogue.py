"""`mmgui import` and `mmgui export`: a catalogue into the review queue and its labels out
(CSV, JSON, Label Studio)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mmgui.cli.common import DB, MEDIA, MODELS, QUIET, review_of, settings_of
from mmgui.errors import MmguiError

SOURCE_FLAGS = {"kaggle": "kaggle", "csv": "csv", "posters": "posters", "json_file": "json"}


def cmd_import(args: argparse.Namespace) -> None:
    flag, source = next((k, v) for k, v in vars(args).items() if k in SOURCE_FLAGS and v)
    kind = SOURCE_FLAGS[flag]
    review = review_of(args)

    def progress(done: int, total: int) -> None:
        if not args.quiet:
            print(f"\rpredicting {done}/{total}", end="", file=sys.stderr, flush=True)

    summary = review.catalogue.import_catalogue(
        Path(source), kind, progress=progress, label_studio=_label_studio_import(args)
    )
    if not args.quiet and summary.predicted:
        print(file=sys.stderr)
    result = summary.as_dict()
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(
            f"{result['new']} new, {result['changed']} changed, {result['unchanged']} unchanged, "
            f"{result['predicted']} predicted with {result['model_version']}, "
            f"{result['decisions']} decisions recorded; {result['bad_rows']} bad rows"
        )
        for line in summary.bad + summary.notices:
            print(f"  {line.where}: {line.reason}")
    if not summary.imported:
        raise MmguiError(f"nothing was imported from {source} ({len(summary.bad)} bad rows)")


def _label_studio_import(args: argparse.Namespace):
    from mmgui.data.label_studio import LabelStudioImport, read_user_map

    prefixes = {}
    for mapping in args.image_url_prefix or []:
        prefix, sep, folder = mapping.rpartition("=")
        if not sep or not prefix:
            raise MmguiError(f"--image-url-prefix takes URL=FOLDER on import, not {mapping!r}")
        prefixes[prefix] = Path(folder)
    document_root = Path(args.ls_document_root) if args.ls_document_root else None
    users = read_user_map(Path(args.ls_user_map) if args.ls_user_map else None)
    return LabelStudioImport(document_root, prefixes, users, args.ls_project)


def _label_studio_export(args: argparse.Namespace):
    from mmgui.data.label_studio import LabelStudioExport, read_user_map

    return LabelStudioExport(
        settings_of(args).media_dir,
        Path(args.ls_document_root) if args.ls_document_root else None,
        args.image_url_prefix,
        read_user_map(Path(args.ls_user_map) if args.ls_user_map else None),
    )


def cmd_export(args: argparse.Namespace) -> None:
    label_studio = _label_studio_export(args) if args.format == "labelstudio" else None
    review = review_of(args)
    count = review.catalogue.export(
        args.format, Path(args.out), args.status, args.genre, label_studio=label_studio
    )
    print(f"{count} items written to {args.out}")
    if label_studio is not None:
        from mmgui.data.export import label_config_path

        print(f"its Label Studio labelling config: {label_config_path(Path(args.out))}")


def _add_label_studio_flags(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--ls-document-root",
        help="Label Studio's LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT (default: that variable, "
        "else the media folder's parent); /data/local-files/?d= paths are relative to it",
    )
    command.add_argument(
        "--ls-user-map",
        help="JSON file: mmgui username → Label Studio email (or {email, id})",
    )


def add_catalogue_commands(commands: argparse._SubParsersAction) -> None:
    load = commands.add_parser(
        "import",
        parents=[DB, MEDIA, MODELS, QUIET],
        help="import a catalogue into the review queue",
    )
    sources = load.add_mutually_exclusive_group(required=True)
    sources.add_argument("--kaggle", help="a folder with movies_metadata.csv and posters/")
    sources.add_argument("--csv", help="a CSV with title, overview, poster and optional genres")
    sources.add_argument("--posters", help="a folder of poster images")
    sources.add_argument("--json", dest="json_file", help="a mmgui or Label Studio JSON export")
    load.add_argument("--json-summary", dest="json", action="store_true", help="print JSON")
    load.add_argument(
        "--image-url-prefix", action="append", metavar="URL=FOLDER",
        help="Label Studio images under URL are files under FOLDER (repeatable)",
    )  # fmt: skip
    load.add_argument("--ls-project", help="names Label Studio tasks that have no external_id")
    _add_label_studio_flags(load)
    load.set_defaults(run=cmd_import)

    export_labels = commands.add_parser(
        "export", parents=[DB, MEDIA], help="export the current labels"
    )
    export_labels.add_argument("--format", required=True, choices=["csv", "json", "labelstudio"])
    export_labels.add_argument("--out", required=True)
    export_labels.add_argument("--status", default="all", help="all | pending | reviewed | ...")
    export_labels.add_argument("--genre", help="only items labelled or predicted with it")
    export_labels.add_argument(
        "--image-url-prefix", metavar="URL",
        help="labelstudio: posters as URL/<media key> instead of Label Studio's local files",
    )  # fmt: skip
    _add_label_studio_flags(export_labels)
    export_labels.set_defaults(run=cmd_export)
