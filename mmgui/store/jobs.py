"""Training jobs in the database: queued by the studio, claimed by exactly one worker.

Claiming is a conditional `UPDATE ... WHERE id = :id AND status = 'queued'`: whichever worker's
update matches first wins, on any database (PostgreSQL also skips rows other workers hold,
`FOR UPDATE SKIP LOCKED`, so they do not queue up behind each other). A running job carries
its worker (`host:pid`) and a heartbeat; a worker that starts marks jobs of dead workers
failed, so a SIGKILL mid-job never leaves a job "running" forever.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from mmgui.errors import MmguiError
from mmgui.store.db import transaction
from mmgui.store.enums import CORRECTIONS, PENDING_JOBS, AuditAction, JobMode, JobStatus
from mmgui.store.schema import AuditEntry, Decision, TrainingJob, utcnow

NOT_STARTED = "cancelled before it started"  # the error of a job cancelled while queued


class JobCancelled(Exception):
    """Raised inside a training loop when the job's cancel was requested."""


@dataclass(frozen=True)
class JobView:
    id: int
    status: str
    mode: str
    trigger: str
    requested_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    worker: str | None
    device: str | None
    error: str | None
    result_version: str | None
    progress: list[dict]
    params: dict
    cancel_requested: bool
    waiting_for: str | None = None  # claimed, not started: who holds the device meanwhile


def this_worker() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class JobQueue:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def enqueue(
        self, username: str, mode: str = JobMode.HEADS, trigger: str = "button", **params: object
    ) -> int:
        if mode not in tuple(JobMode):
            raise MmguiError(f"training mode must be one of {', '.join(JobMode)}")
        with transaction(self.sessions) as session:
            job = TrainingJob(
                requested_by=username, mode=mode, trigger=trigger, params=params, progress=[]
            )
            session.add(job)
            session.flush()
            return job.id

    def claim(self, worker: str, device: str) -> JobView | None:
        """Take the oldest queued job for `worker`, or None; never the same job twice. The job
        is "running" from here on (its worker beats its heart), but `started_at` stays empty
        until `start`: the worker may first have to wait for the device."""
        for _ in range(20):  # lost races move on to the next queued job
            with transaction(self.sessions) as session:
                query = select(TrainingJob.id).where(TrainingJob.status == JobStatus.QUEUED)
                query = query.order_by(TrainingJob.id).limit(1)
                if session.bind.dialect.name == "postgresql":
                    query = query.with_for_update(skip_locked=True)
                job_id = session.scalar(query)
                if job_id is None:
                    return None
                claimed = session.execute(
                    update(TrainingJob)
                    .where(TrainingJob.id == job_id, TrainingJob.status == JobStatus.QUEUED)
                    .values(
                        status=JobStatus.RUNNING,
                        worker=worker,
                        device=device,
                        heartbeat_at=utcnow(),
                    )
                    .execution_options(synchronize_session=False)
                ).rowcount
            if claimed == 1:
                return self.get(job_id)
        return None

    def wait(self, job_id: int, waiting_for: str) -> bool:
        """Say what the claimed job waits for and beat its heart; returns whether a cancel
        was requested meanwhile."""
        with transaction(self.sessions) as session:
            job = session.get(TrainingJob, job_id)
            job.waiting_for, job.heartbeat_at = waiting_for, utcnow()
            return job.cancel_requested

    def start(self, job_id: int) -> None:
        """The claimed job's worker holds the device now: training starts."""
        with transaction(self.sessions) as session:
            job = session.get(TrainingJob, job_id)
            job.waiting_for, job.started_at, job.heartbeat_at = None, utcnow(), utcnow()

    def report(self, job_id: int, record: dict) -> None:
        """Append one epoch's record to the job's progress and beat its heart; raises
        `JobCancelled` if a cancel was requested (so the loop stops within one epoch)."""
        with transaction(self.sessions) as session:
            job = session.get(TrainingJob, job_id)
            job.progress = [*job.progress, record]
            job.heartbeat_at = utcnow()
            cancelled = job.cancel_requested
        if cancelled:
            raise JobCancelled(f"job {job_id} cancelled")

    def heartbeat(self, job_id: int) -> bool:
        """Mark the job alive; returns whether a cancel was requested."""
        with transaction(self.sessions) as session:
            job = session.get(TrainingJob, job_id)
            job.heartbeat_at = utcnow()
            return job.cancel_requested

    def finish(
        self, job_id: int, status: str, error: str | None = None, version: str | None = None
    ) -> None:
        with transaction(self.sessions) as session:
            job = session.get(TrainingJob, job_id)
            job.status, job.error, job.result_version = status, error, version
            job.finished_at, job.waiting_for = utcnow(), None

    def request_cancel(self, job_id: int, username: str, any_job: bool = False) -> str:
        """Cancel a queued job now, or ask a running one to stop; returns the new status.
        `username` may cancel the jobs they queued (any job with `any_job`); every cancel is
        in the audit log, written in the same transaction."""
        with transaction(self.sessions) as session:
            job = session.get(TrainingJob, job_id)
            if job is None:
                raise MmguiError(f"no training job {job_id}")
            if not any_job and job.requested_by != username:
                raise MmguiError(
                    f"job {job_id} was queued by {job.requested_by}: only they or an admin "
                    "may cancel it"
                )
            if job.status == JobStatus.QUEUED:
                job.status, job.finished_at, job.error = JobStatus.CANCELLED, utcnow(), NOT_STARTED
            elif job.status == JobStatus.RUNNING:
                job.cancel_requested = True
            detail = {"job_id": job_id, "requested_by": job.requested_by, "status": job.status}
            session.add(AuditEntry(username=username, action=AuditAction.CANCEL_JOB, detail=detail))
            return job.status

    def recover(self, stale_after: timedelta, worker: str | None = None) -> list[int]:
        """Fail running jobs whose worker is gone: on this host with a dead pid, or anywhere
        with no heartbeat for `stale_after`. Returns the ids marked failed."""
        host = (worker or this_worker()).split(":")[0]
        failed = []
        with transaction(self.sessions) as session:
            running = select(TrainingJob).where(TrainingJob.status == JobStatus.RUNNING)
            for job in session.scalars(running):
                job_host, _, pid = (job.worker or "").rpartition(":")
                dead = job_host == host and pid.isdigit() and not _alive(int(pid))
                beat = job.heartbeat_at or job.started_at
                if beat is not None and beat.tzinfo is None:
                    beat = beat.replace(tzinfo=utcnow().tzinfo)
                stale = beat is None or utcnow() - beat > stale_after
                if dead or stale:
                    reason = (
                        "its process is gone" if dead else f"no heartbeat since {beat:%H:%M:%S} UTC"
                    )
                    job.status, job.finished_at = JobStatus.FAILED, utcnow()
                    job.error = (
                        f"worker {job.worker} stopped mid-job ({reason}); nothing was registered"
                    )
                    failed.append(job.id)
        return failed

    def get(self, job_id: int) -> JobView:
        with self.sessions() as session:
            job = session.get(TrainingJob, job_id)
            if job is None:
                raise MmguiError(f"no training job {job_id}")
            return _view(job)

    def recent(self, limit: int = 20) -> list[JobView]:
        with self.sessions() as session:
            query = select(TrainingJob).order_by(TrainingJob.id.desc()).limit(limit)
            return [_view(j) for j in session.scalars(query)]

    def pending(self) -> int:
        """Jobs queued or running."""
        with self.sessions() as session:
            query = select(func.count(TrainingJob.id))
            return session.scalar(query.where(TrainingJob.status.in_(PENDING_JOBS)))

    def corrections_since_last_job(self) -> int:
        """Editor decisions (accept / correct) made after the newest job was queued."""
        with self.sessions() as session:
            last = session.scalar(select(func.max(TrainingJob.created_at)))
            query = select(func.count(Decision.id)).where(Decision.action.in_(CORRECTIONS))
            if last is not None:
                query = query.where(Decision.created_at > last)
            return session.scalar(query)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _view(job: TrainingJob) -> JobView:
    return JobView(
        job.id, job.status, job.mode, job.trigger, job.requested_by, job.created_at,
        job.started_at, job.finished_at, job.worker, job.device, job.error,
        job.result_version, list(job.progress or []), dict(job.params or {}),
        bool(job.cancel_requested), job.waiting_for,
    )  # fmt: skip
