"""The fixed words of the review queue, each set defined once: item statuses, decision and
audit actions, queue views, training job statuses and modes.

They are `StrEnum`s, so a member is its string: the database keeps the same values it always
had, and `ItemStatus.PENDING == "pending"` wherever a plain string comes in (a form, a flag).
"""

from __future__ import annotations

from enum import StrEnum


class ItemStatus(StrEnum):
    """Where an item stands in the queue (`Item.status`)."""

    PENDING = "pending"
    REVIEWED = "reviewed"
    SKIPPED = "skipped"
    DISCARDED = "discarded"


ANY_STATUS = "all"  # the status filter that keeps every item


class EditorAction(StrEnum):
    """What an editor asks for on an item (`ReviewStore.decide`): save the labels shown (or
    changed), skip it, or discard it."""

    SAVE = "save"
    SKIP = "skip"
    DISCARD = "discard"


class DecisionAction(StrEnum):
    """What a `Decision` row records: a save is recorded as accept (the labels shown) or
    correct (changed)."""

    ACCEPT = "accept"
    CORRECT = "correct"
    SKIP = "skip"
    DISCARD = "discard"
    UNDO = "undo"
    BULK_ADD = "bulk_add"
    BULK_REMOVE = "bulk_remove"


CORRECTIONS = (DecisionAction.ACCEPT, DecisionAction.CORRECT)  # an editor settled the labels

# The status a decision leaves its item in, for the actions that set one.
STATUS_AFTER = {
    DecisionAction.ACCEPT: ItemStatus.REVIEWED,
    DecisionAction.CORRECT: ItemStatus.REVIEWED,
    DecisionAction.SKIP: ItemStatus.SKIPPED,
    DecisionAction.DISCARD: ItemStatus.DISCARDED,
}


class QueueView(StrEnum):
    """The orders of the queue (`ReviewStore.queue`)."""

    UNCERTAIN = "uncertain"  # the model nearest a threshold first
    MISLABELLED = "mislabelled"  # the model most confidently against a label first
    NEWEST = "newest"


class AuditAction(StrEnum):
    """What the audit log records (`AuditEntry.action`)."""

    IMPORT = "import"
    EXPORT = "export"
    SEND_CLIP = "send_clip"
    BULK_EDIT = "bulk_edit"
    CANCEL_JOB = "cancel_job"
    PROMOTE = "promote"
    ROLLBACK = "rollback"


class JobStatus(StrEnum):
    """A training job's life (`TrainingJob.status`)."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


PENDING_JOBS = (JobStatus.QUEUED, JobStatus.RUNNING)
FINISHED_JOBS = (JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELLED)


class JobMode(StrEnum):
    """What a training job tunes: the heads only, or the backbones too."""

    HEADS = "heads"
    FULL = "full"
