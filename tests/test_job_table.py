"""The Training tab's jobs table: times, durations, the estimate, a job waiting for the device."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mmgui.store.jobs import JobView
from mmgui.ui.job_table import JOB_COLUMNS, job_rows

NOW = datetime(2026, 3, 4, 10, 30, 0, tzinfo=UTC)


def job(status: str, started: float | None, finished: float | None = None, **fields) -> JobView:
    """A job created 10 minutes before NOW, started and finished `started` / `finished`
    seconds before NOW (naive, as SQLite returns them)."""

    def ago(seconds: float | None) -> datetime | None:
        return None if seconds is None else (NOW - timedelta(seconds=seconds)).replace(tzinfo=None)

    values = dict(
        id=7, status=status, mode="heads", trigger="button", requested_by="ana",
        created_at=ago(600), started_at=ago(started), finished_at=ago(finished), worker="h:1",
        device="cpu", error=None, result_version=None, progress=[], params={},
        cancel_requested=False,
    )  # fmt: skip
    return JobView(**{**values, **fields})


def row(view: JobView) -> dict:
    return dict(zip(JOB_COLUMNS, job_rows([view], NOW)[0], strict=True))


def epoch(number: int, seconds_ago: float) -> dict:
    at = (NOW - timedelta(seconds=seconds_ago)).isoformat()
    return {"epoch": number, "train_loss": 0.5, "at": at, "max_epochs": 10}


def test_a_running_job_shows_its_times_and_an_upper_bound_on_the_time_left() -> None:
    shown = row(job("running", 100, progress=[epoch(1, 60), epoch(2, 40)]))
    assert shown["created (UTC)"] == "2026-03-04 10:20:00"
    assert shown["started"] == "2026-03-04 10:28:20" and shown["finished"] == ""
    assert shown["duration"] == "1 min 40 s"
    # 20 s an epoch, 8 epochs allowed, the last one ended 40 s ago
    assert shown["left (at most)"] == "2 min 00 s"
    assert shown["status"] == "running" and shown["epochs"] == 2


def test_a_job_waiting_for_the_device_says_so() -> None:
    waiting = "waiting for the CPU: job 12 / pid 4711 on this host holds it since 10:02 UTC"
    shown = row(job("running", None, waiting_for=waiting))
    assert shown["status"] == "waiting" and shown["note"] == waiting
    assert shown["started"] == shown["duration"] == shown["left (at most)"] == ""


def test_a_finished_job_has_its_duration_and_no_estimate() -> None:
    shown = row(job("done", 300, 60, progress=[epoch(1, 200)], result_version="v0007-heads"))
    assert shown["finished"] == "2026-03-04 10:29:00" and shown["duration"] == "4 min 00 s"
    assert shown["left (at most)"] == "" and shown["version"] == "v0007-heads"
