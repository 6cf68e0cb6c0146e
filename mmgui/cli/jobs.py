"""`mmgui worker`, `queue-job` and `promote`: training jobs and the active version."""

from __future__ import annotations

import argparse

from mmgui.cli.common import DB, MEDIA, MODELS, settings_of
from mmgui.errors import MmguiError
from mmgui.serve.auth import LOCAL_USER
from mmgui.store.enums import JobMode


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
    from mmgui.serve.actions import NeedsConfirmation, promote_version
    from mmgui.store.review import ReviewStore
    from mmgui.store.versions import VersionTable

    settings = settings_of(args)
    versions = VersionTable(ReviewStore(settings.db_url, settings.media_dir).sessions)
    try:
        version = promote_version(versions, settings, args.version, args.user, args.yes)
    except NeedsConfirmation as err:
        raise MmguiError(f"{err} (with --yes)") from err
    print(f"{version.name} is now the active version")


def add_job_commands(commands: argparse._SubParsersAction) -> None:
    worker = commands.add_parser(
        "worker", parents=[DB, MEDIA, MODELS], help="run queued training jobs (its own process)"
    )
    worker.add_argument("--once", action="store_true", help="exit when the queue is empty")
    worker.set_defaults(run=cmd_worker)

    job = commands.add_parser(
        "queue-job", parents=[DB], help="queue a finetuning job on the corrections"
    )
    job.add_argument("--mode", default=JobMode.HEADS, choices=list(JobMode))
    job.add_argument("--data", help="the original training data (default: the version's)")
    job.add_argument("--user", default=LOCAL_USER)
    job.add_argument("--wait", type=float, help="wait up to this many seconds for a worker")
    job.set_defaults(run=cmd_queue_job)

    promote = commands.add_parser(
        "promote", parents=[DB, MODELS], help="make a model version the active one"
    )
    promote.add_argument("version")
    promote.add_argument("--auth", help="users.json: then only its admins may promote")
    promote.add_argument(
        "--user", default=LOCAL_USER, help="who promotes (with --auth, for the role check)"
    )
    promote.add_argument(
        "--yes", action="store_true", help="promote even a version flagged as worse"
    )
    promote.set_defaults(run=cmd_promote)
