"""One function per guarded action, with its rule: who may do it and what must be asked first.
The studio (`ModelManager` and the tabs) and the command line call these, so each rule is
written once.

Roles come from `Settings.auth_file`; without one, the single local user is an admin. Only
admins promote and roll back; a candidate flagged as worse than its parent is promoted only
when confirmed; a rollback walks back the promotion history one step and always asks first,
naming the version it would serve (and its flag). Editors cancel the jobs they queued, admins
any; cancels are audited. Nothing here loads a model: the caller swaps the served version in.
"""

from __future__ import annotations

from mmgui.config import Settings
from mmgui.errors import MmguiError
from mmgui.serve.auth import Role, role_of
from mmgui.store.jobs import JobQueue
from mmgui.store.versions import VersionTable, VersionView
from mmgui.versions import read_card


class NeedsConfirmation(MmguiError):
    """The action needs the user to confirm it first; the message is the question."""


def is_admin(settings: Settings, username: str) -> bool:
    """Whether `username` is an admin under `settings.auth_file` (the role check of every
    admin-only action)."""
    return role_of(settings.auth_file, username) == Role.ADMIN


def require_admin(settings: Settings, username: str, what: str) -> None:
    """`MmguiError` "only admins <what> (<username> is not one)" unless `username` is one."""
    if not is_admin(settings, username):
        raise MmguiError(f"only admins {what} ({username} is not one)")


def promote_version(
    versions: VersionTable, settings: Settings, name: str, username: str, confirmed: bool
) -> VersionView:
    """Make `name` the active version: the one promotion rule, for the studio and the CLI.
    Only admins promote; a version flagged as worse than its parent raises
    `NeedsConfirmation` unless `confirmed`; its folder must be on disk."""
    require_admin(settings, username, "promote model versions")
    version = versions.get(name)
    if version.flagged and not confirmed:
        raise NeedsConfirmation(
            f"{name} looks worse than {version.parent} on the evaluation data "
            f"({version.flagged}); confirm to promote it anyway"
        )
    _still_on_disk(settings, version)
    return versions.promote(name, username)


def rollback_question(versions: VersionTable, settings: Settings, username: str) -> tuple[str, str]:
    """What a rollback by `username` would do, to ask before it: (the question, the version it
    would serve: the one promoted before the active one). Admins only."""
    require_admin(settings, username, "roll back model versions")
    history = versions.history()
    if len(history) < 2:
        raise MmguiError(
            f"{history[0] if history else 'the active version'} was not promoted over "
            "another version: nothing to roll back to"
        )
    target = versions.get(history[1])
    flag = f"; it is flagged: {target.flagged}" if target.flagged else ""
    return (
        f"Roll back from {history[0]} to {target.name}{flag}? Confirm to serve it.",
        target.name,
    )


def rollback_version(
    versions: VersionTable, settings: Settings, username: str, confirmed_version: str | None
) -> VersionView:
    """Make the version promoted before the active one active; each rollback steps one further
    back. `NeedsConfirmation` (the `rollback_question`) unless `confirmed_version` is the
    version it would serve, so no version, flagged or not, returns unasked."""
    question, target = rollback_question(versions, settings, username)
    if confirmed_version != target:
        raise NeedsConfirmation(question)
    _still_on_disk(settings, versions.get(target))
    return versions.rollback(username, target)


def cancel_job(jobs: JobQueue, settings: Settings, job_id: int, username: str) -> str:
    """Cancel a job `username` queued (an admin: any job): a queued one at once, a running one
    at the end of its epoch; audited. Returns the job's status after the request."""
    return jobs.request_cancel(job_id, username, any_job=is_admin(settings, username))


def _still_on_disk(settings: Settings, version: VersionView) -> None:
    read_card(settings.models_dir / version.path)
