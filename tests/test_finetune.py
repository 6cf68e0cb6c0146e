"""Learning from corrections: jobs, the worker, new versions, promote and roll back, faults."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mmgui.config import Settings
from mmgui.errors import MmguiError
from mmgui.serve.actions import NeedsConfirmation
from mmgui.serve.review import ReviewService
from mmgui.serve.studio import Studio
from mmgui.store.jobs import JobQueue
from mmgui.store.review import ReviewStore
from mmgui.worker import Worker, wait_for

from .conftest import KAGGLE_FIXTURE

ROOT = Path(__file__).resolve().parent.parent
SLOW = {"epochs": 100_000, "patience": 100_000}  # a job that runs until stopped


@pytest.fixture
def settings(loop_settings: Settings) -> Settings:
    return loop_settings


def corrected(settings: Settings, n: int = 8) -> ReviewService:
    """A queue with the fixture imported and `n` items corrected."""
    review = ReviewService.open(Studio(settings))
    review.catalogue.import_catalogue(KAGGLE_FIXTURE)
    for entry in review.store.queue(limit=n):
        item = review.item(entry.id)
        review.store.decide(item.id, "ana", [*(item.labels or []), "Western"], item.version)
    return review


def test_a_job_makes_a_version_that_is_promoted_and_rolled_back(settings: Settings) -> None:
    review = corrected(settings)
    manager = review.manager
    job_id = manager.train_now("ana")
    with pytest.raises(MmguiError, match="already queued"):
        manager.train_now("ana")
    assert Worker(settings, log=lambda _: None).run(once=True) == 1
    job = manager.jobs.get(job_id)
    assert job.status == "done", job.error
    assert job.device == "cpu" and job.progress and "val_macro_roc_auc" in job.progress[0]
    name = job.result_version
    meta = json.loads((settings.models_dir / name / "model.json").read_text())
    assert meta["parent"] == "default" and meta["finetune"]["n_corrections"] == 8
    assert meta["finetune"]["job_id"] == job_id
    assert meta["finetune"]["distributed"] is None  # one CPU: train_head, no torchrun
    assert meta["active_metrics"]["eval"]["n_items"] == meta["metrics"]["eval"]["n_items"]
    assert not list(settings.models_dir.glob(".*.tmp"))
    assert [d.genre for d in manager.compare(name)][
        :1
    ] and manager.versions.active().name == "default"

    before = review.studio.predictor.name
    promoted = manager.promote(name, "ana", confirmed=True)
    assert promoted.is_active and before == "default"
    assert review.studio.predict(None, "A cowboy rides west.", "Dust").model_version == name
    manager.promote("default", "ana")  # roll back in one step
    assert review.studio.predict(None, "A cowboy rides west.", "Dust").model_version == "default"
    actions = [
        (e.action, e.detail["version"]) for e in review.store.audit_log() if e.action == "promote"
    ]
    assert actions == [("promote", "default"), ("promote", name)]


def test_a_flagged_version_needs_confirmation(settings: Settings) -> None:
    review = corrected(settings)
    manager = review.manager
    manager.versions.register("worse", "default", {}, parent="default", flagged="micro-F1 down")
    with pytest.raises(NeedsConfirmation, match="looks worse than default"):
        manager.promote("worse", "ana")
    assert manager.promote("worse", "ana", confirmed=True).is_active


def test_a_job_without_corrections_fails_fast(settings: Settings) -> None:
    review = ReviewService.open(Studio(settings))
    job_id = review.manager.train_now("ana")
    started = time.monotonic()
    Worker(settings, log=lambda _: None).run(once=True)
    job = review.manager.jobs.get(job_id)
    assert job.status == "failed" and "no corrected items" in job.error
    assert time.monotonic() - started < 10


def test_every_n_corrections_queues_a_job(settings: Settings) -> None:
    import dataclasses

    review = corrected(dataclasses.replace(settings, auto_train_every=3), n=0)
    cursor = review.open_queue()
    for _ in range(3):
        assert review.manager.jobs.pending() == 0
        item = review.current(cursor)
        review.save(cursor, "ana", [*(item.labels or []), "War"])
    (job,) = review.manager.recent_jobs()
    assert job.trigger == "auto:3" and job.status == "queued"


def test_two_workers_claim_one_job_once(db_url: str, tmp_path: Path) -> None:
    jobs = JobQueue(ReviewStore(db_url, tmp_path / "media").sessions)
    job_id = jobs.enqueue("ana")
    barrier = threading.Barrier(6, timeout=30)
    claims: list[int | None] = []

    def claim(worker: str, queue: JobQueue) -> None:
        barrier.wait()
        job = queue.claim(worker, "cpu")
        claims.append(job.id if job else None)

    queues = [JobQueue(ReviewStore(db_url, tmp_path / "media").sessions) for _ in range(6)]
    threads = [
        threading.Thread(target=claim, args=(f"host{i}:1", queue)) for i, queue in enumerate(queues)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(claims, key=str) == [job_id] + [None] * 5
    assert jobs.get(job_id).status == "running"


def test_cancel_stops_a_running_job_within_an_epoch(settings: Settings) -> None:
    review = corrected(settings)
    job_id = review.manager.jobs.enqueue("ana", **SLOW)
    worker = Worker(settings, log=lambda _: None)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, kwargs={"stop": stop})
    thread.start()
    try:
        deadline = time.monotonic() + 120
        while not review.manager.jobs.get(job_id).progress and time.monotonic() < deadline:
            time.sleep(0.2)
        assert review.manager.cancel(job_id, "ana") == "running"
        job = wait_for(review.manager.jobs, job_id, 60)
    finally:
        stop.set()
        thread.join()
    assert job.status == "cancelled"
    assert [v.name for v in review.manager.versions.all()] == ["default"]


def test_two_jobs_on_one_device_run_one_after_the_other(settings: Settings) -> None:
    review = corrected(settings)
    first = review.manager.jobs.enqueue("ana", epochs=3)
    second = review.manager.jobs.enqueue("bob", epochs=3)
    workers = [Worker(settings, log=lambda _: None) for _ in range(2)]
    threads = [threading.Thread(target=w.run, kwargs={"once": True}) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    a, b = (review.manager.jobs.get(i) for i in (first, second))
    assert a.status == b.status == "done", (a.error, b.error)
    earlier, later = sorted((a, b), key=lambda job: job.started_at)
    assert later.started_at >= earlier.finished_at  # the other waited for the device


def _until(condition, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert condition()


def test_a_job_waiting_for_the_device_is_claimed_and_says_who_holds_it(
    settings: Settings,
) -> None:
    from mmgui.worker import DeviceLock

    review = corrected(settings)
    jobs = review.manager.jobs
    job_id = jobs.enqueue("ana", epochs=2)
    worker = Worker(settings, log=lambda _: None)
    stop = threading.Event()
    with DeviceLock(settings, "cpu") as other:  # another training process on this host
        assert other.acquire(job_id=12)
        since = datetime.now(UTC)
        thread = threading.Thread(target=worker.run, kwargs={"stop": stop})
        thread.start()
        try:
            _until(lambda: jobs.get(job_id).waiting_for is not None)
            job = jobs.get(job_id)
            assert job.status == "running" and job.worker == worker.name
            assert job.started_at is None  # claimed, not started
            assert job.waiting_for == (
                f"waiting for the CPU: job 12 / pid {os.getpid()} on this host holds it "
                f"since {since:%H:%M} UTC"
            )
        except BaseException:
            stop.set()
            raise
    try:
        _until(lambda: jobs.get(job_id).status == "done", 120)
    finally:
        stop.set()
        thread.join()
    job = jobs.get(job_id)
    assert job.waiting_for is None and job.started_at is not None


def test_a_job_waiting_for_the_device_can_be_cancelled(settings: Settings) -> None:
    from mmgui.worker import DeviceLock

    review = corrected(settings)
    jobs = review.manager.jobs
    job_id = jobs.enqueue("ana", epochs=2)
    stop = threading.Event()
    with DeviceLock(settings, "cpu") as other:
        assert other.acquire()
        thread = threading.Thread(
            target=Worker(settings, log=lambda _: None).run, kwargs={"stop": stop}
        )
        thread.start()
        try:
            _until(lambda: jobs.get(job_id).waiting_for is not None)
            assert "pid" in jobs.get(job_id).waiting_for
            review.manager.cancel(job_id, "ana")  # the job is hers
            _until(lambda: jobs.get(job_id).status == "cancelled")
        finally:
            stop.set()
            thread.join()
    job = jobs.get(job_id)
    assert job.error == "cancelled before it started" and job.started_at is None


def test_a_killed_worker_leaves_no_version_and_its_job_is_failed(settings: Settings) -> None:
    review = corrected(settings)
    job_id = review.manager.jobs.enqueue("ana", **SLOW)
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "MMGUI_DB_URL": settings.db_url,
        "MMGUI_MODELS_DIR": str(settings.models_dir),
        "MMGUI_MEDIA_DIR": str(settings.media_dir),
        "MMGUI_CACHE_DIR": str(settings.cache_dir),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "mmgui", "worker"], env=env, stdout=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 120
        while not review.manager.jobs.get(job_id).progress and time.monotonic() < deadline:
            time.sleep(0.2)
        assert review.manager.jobs.get(job_id).status == "running"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert sorted(p.name for p in settings.models_dir.iterdir()) == ["default"]
    assert review.manager.versions.active().name == "default"
    failed = Worker(settings, log=lambda _: None).recover()
    job = review.manager.jobs.get(job_id)
    assert failed == [job_id] and job.status == "failed"
    assert f":{process.pid} stopped mid-job (its process is gone)" in job.error


def test_a_silent_worker_on_another_host_is_failed_after_the_stale_time(
    db_url: str, tmp_path: Path
) -> None:
    jobs = JobQueue(ReviewStore(db_url, tmp_path / "media").sessions)
    job_id = jobs.enqueue("ana")
    jobs.claim("elsewhere:123", "cuda")
    assert jobs.recover(timedelta(seconds=60)) == []
    assert jobs.recover(timedelta(seconds=0)) == [job_id]
    assert "no heartbeat since" in jobs.get(job_id).error


def test_full_finetune_ships_its_own_backbones_and_serves_them(settings: Settings) -> None:
    import numpy as np
    import torch

    from mmgui.serve.predictor import GenrePredictor
    from mmgui.serve.torch_model import load_torch_genre_model

    review = corrected(settings)
    job_id = review.manager.jobs.enqueue("ana", mode="full", epochs=2)
    Worker(settings, log=lambda _: None).run(once=True)
    job = review.manager.jobs.get(job_id)
    assert job.status == "done", job.error
    version = settings.models_dir / job.result_version
    meta = json.loads((version / "model.json").read_text())
    parent = json.loads((settings.models_dir / "default" / "model.json").read_text())
    assert meta["finetune"]["mode"] == "full" and meta["backbones"]["in_version"] == "backbones"
    for name in ("poster", "overview"):
        assert (
            meta["backbones"][name]["weights_sha256"] != parent["backbones"][name]["weights_sha256"]
        )
        assert (version / "backbones" / f"{name}.onnx").is_file()
    # served (ONNX, the version's own graphs) and the torch copy agree on a real item
    item = review.item(review.store.queue(status="all")[0].id)
    served = GenrePredictor(version, settings).predict(item.poster, item.overview, item.title)
    copy = load_torch_genre_model(version, Settings.load())
    with torch.no_grad():
        eager = copy.model(*copy.inputs(item.poster, item.overview, item.title)).numpy()[0]
    assert np.allclose(list(served.genre_probs.values()), eager, atol=1e-4)
    original = GenrePredictor(settings.models_dir / "default", settings)
    before = original.predict(item.poster, item.overview, item.title).genre_probs
    assert before != served.genre_probs  # the backbones really changed what it predicts
    review.manager.promote(job.result_version, "ana", confirmed=True)
    assert review.studio.predict(item.poster, None, None).model_version == job.result_version


def test_a_job_without_the_original_data_fails_with_advice(
    settings: Settings, tmp_path: Path
) -> None:
    import dataclasses

    missing = dataclasses.replace(settings, replay_data=str(tmp_path / "no-such-folder"))
    review = corrected(missing)
    job_id = review.manager.train_now("ana")
    Worker(missing, log=lambda _: None).run(once=True)
    job = review.manager.jobs.get(job_id)
    assert job.status == "failed" and "set MMGUI_REPLAY_DATA" in job.error


def test_sigterm_to_the_studio_stops_its_worker(settings: Settings, tmp_path: Path) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MMGUI_CACHE_DIR": str(settings.cache_dir)}
    args = ["--port", str(port), "--models", str(settings.models_dir), "--db", settings.db_url,
            "--media", str(settings.media_dir)]  # fmt: skip
    studio = subprocess.Popen(
        [sys.executable, str(ROOT / "app.py"), *args], env=env, cwd=tmp_path,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(studio.stdout), daemon=True)
    reader.start()
    worker_pid = None
    try:
        deadline = time.monotonic() + 120
        while worker_pid is None and time.monotonic() < deadline and studio.poll() is None:
            started = [line for line in list(lines) if line.startswith("worker ")]
            worker_pid = int(started[0].split()[1].rsplit(":", 1)[1]) if started else None
            time.sleep(0.2)
        assert worker_pid is not None, "".join(lines)
        studio.send_signal(signal.SIGTERM)
        assert studio.wait(60) == 0, "".join(lines)
        with pytest.raises(ProcessLookupError):  # reaped by the studio, not left running
            os.kill(worker_pid, 0)
    finally:
        if studio.poll() is None:
            studio.kill()
        if worker_pid is not None and _running(worker_pid):
            os.kill(worker_pid, signal.SIGKILL)
        studio.wait()


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
