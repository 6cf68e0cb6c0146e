"""The Training tab's jobs table: when each job was queued, started and finished, how long it
ran, and while it runs an upper bound on the time left. Presentation only (no SQL)."""

from __future__ import annotations

from datetime import UTC, datetime

from mmgui.store.enums import JobStatus
from mmgui.store.jobs import JobView

JOB_COLUMNS = ["job", "status", "mode", "trigger", "by", "created (UTC)", "started", "finished",
               "duration", "left (at most)", "device", "worker", "epochs", "version",
               "note"]  # fmt: skip


def job_rows(recent: list[JobView], now: datetime | None = None) -> list[list]:
    """One row per job, in `JOB_COLUMNS` order. A job claimed by a worker that waits for the
    device shows as "waiting", with who holds the device as its note."""
    now = now or datetime.now(UTC)
    return [
        [j.id, "waiting" if j.waiting_for else j.status, j.mode, j.trigger, j.requested_by,
         _clock(j.created_at), _clock(j.started_at), _clock(j.finished_at), _duration(j, now),
         _time_left(j, now), j.device or "", j.worker or "", len(j.progress),
         j.result_version or "", j.waiting_for or j.error or ""]
        for j in recent
    ]  # fmt: skip


def _utc(moment: datetime) -> datetime:
    """SQLite hands datetimes back without their zone; they are UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _clock(moment: datetime | None) -> str:
    return "" if moment is None else f"{_utc(moment):%Y-%m-%d %H:%M:%S}"


def _span(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def _duration(job: JobView, now: datetime) -> str:
    if job.started_at is None:
        return ""
    end = _utc(job.finished_at) if job.finished_at else now
    return _span((end - _utc(job.started_at)).total_seconds())


def _time_left(job: JobView, now: datetime) -> str:
    """The epochs still allowed times the time an epoch takes (the first one's includes the
    job's setup): an upper bound, as early stopping may end the job sooner. Empty unless the
    job is running and has reported an epoch with its timing."""
    timed = [r for r in job.progress if "at" in r and "max_epochs" in r]
    if job.status != JobStatus.RUNNING or job.started_at is None or not timed:
        return ""
    ends = [datetime.fromisoformat(r["at"]) for r in timed]
    if len(ends) >= 2:
        per_epoch = (ends[-1] - ends[0]).total_seconds() / (len(ends) - 1)
    else:
        per_epoch = (ends[0] - _utc(job.started_at)).total_seconds()
    epochs_left = timed[-1]["max_epochs"] - timed[-1]["epoch"]
    since_last = (now - ends[-1]).total_seconds()
    return _span(max(0.0, epochs_left * per_epoch - since_last))
