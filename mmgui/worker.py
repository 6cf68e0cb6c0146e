"""`python -m mmgui worker`: claims training jobs from the database and runs them, one at a time.

Never inside a web request: `python app.py` starts one of these as its own process (unless
`--no-worker`), and any number can run on other hosts against one PostgreSQL database. On one
host, a lock file per device makes a second job wait while the device is busy: the worker
claims its job first and, while it waits, the job says who holds the device. A job's new
version folder is written atomically (`versions.write_version`) and only then
registered, so a worker killed mid-job leaves no version and the active model untouched; the
next worker to start marks that job failed with the reason.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import traceback
from datetime import UTC, datetime, timedelta
from pathlib import Path

from mmgui.config import Settings, child_pythonpath
from mmgui.errors import MmguiError
from mmgui.store.catalogue import corrected_items
from mmgui.store.enums import FINISHED_JOBS, JobStatus
from mmgui.store.jobs import NOT_STARTED, JobCancelled, JobQueue, JobView, this_worker
from mmgui.store.review import ReviewStore
from mmgui.store.versions import VersionTable

HEARTBEAT_SECONDS = 10.0
STOP_SECONDS = 30.0  # a stopped worker that has not exited by then is killed
STOPPED_WAITING = "the worker was stopped before the device was free; queue it again"


class WorkerStopped(BaseException):
    """SIGTERM / SIGINT arrived: the current job is failed with that reason, then we exit."""


def pick_device(setting: str) -> str:
    """cuda when asked for or (auto) present, else cpu."""
    import torch

    if setting == "cuda" and not torch.cuda.is_available():
        raise MmguiError("device cuda was asked for but torch sees no CUDA device")
    if setting in ("cuda", "auto") and torch.cuda.is_available():
        return "cuda"
    return "cpu"


def version_name(job: JobView) -> str:
    return f"v{job.id:04d}-{job.mode}"


DEVICE_NAMES = {"cpu": "CPU", "cuda": "GPU"}


class DeviceLock:
    """This host's lock on one device: a file under `<cache>/locks/` held with `flock`, which
    records who holds it (job, pid, since when) so that a waiting job can say so."""

    def __init__(self, settings: Settings, device: str) -> None:
        folder = settings.cache_dir / "locks"
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"{device}.lock"
        self.device = device
        # Opened without truncating: the holder's record must survive a waiter opening it.
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        self.held = False

    def acquire(self, job_id: int | None = None) -> bool:
        """Take the lock if it is free (never blocks) and record this process as its holder."""
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        since = datetime.now(UTC).isoformat(timespec="seconds")
        record = json.dumps({"job": job_id, "pid": os.getpid(), "since": since})
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, record.encode(), 0)
        self.held = True
        return True

    def holder(self) -> str:
        """Who holds the lock, in words: "job 12 / pid 4711 on this host holds it since 10:02"."""
        try:
            record = json.loads(self.path.read_text() or "{}")
            since = datetime.fromisoformat(record["since"])
        except (OSError, ValueError, KeyError, TypeError):
            return "another process on this host holds it"
        job = f"job {record['job']} / " if record.get("job") is not None else ""
        return f"{job}pid {record.get('pid')} on this host holds it since {since:%H:%M} UTC"

    def waiting_message(self) -> str:
        return f"waiting for the {DEVICE_NAMES.get(self.device, self.device)}: {self.holder()}"

    def close(self) -> None:
        if self.held:
            os.ftruncate(self.fd, 0)
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            self.held = False
        os.close(self.fd)

    def __enter__(self) -> DeviceLock:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


class Worker:
    def __init__(self, settings: Settings, log=print) -> None:
        self.settings = settings
        self.store = ReviewStore(settings.db_url, settings.media_dir)
        self.jobs = JobQueue(self.store.sessions)
        self.versions = VersionTable(self.store.sessions)
        self.name = this_worker()
        self.device = pick_device(settings.device)
        self.log = log

    def recover(self) -> list[int]:
        """Fail the jobs of dead workers and remove their half-written version folders."""
        stale = timedelta(seconds=self.settings.worker_stale_seconds)
        failed = self.jobs.recover(stale, self.name)
        for job_id in failed:
            job = self.jobs.get(job_id)
            for staging in self.settings.models_dir.glob(f".{version_name(job)}.*.tmp"):
                shutil.rmtree(staging, ignore_errors=True)
            self.log(f"job {job_id}: marked failed ({job.error})")
        return failed

    def run(self, once: bool = False, stop: threading.Event | None = None) -> int:
        """Process jobs until `stop` is set (or, with `once`, until the queue is empty).
        Returns how many jobs ran."""
        stop = stop or threading.Event()
        self.recover()
        ran = 0
        while not stop.is_set():
            job = self.jobs.claim(self.name, self.device)
            if job is None:
                if once:
                    break
                stop.wait(self.settings.worker_poll_seconds)
                continue
            with DeviceLock(self.settings, self.device) as lock:
                if self.wait_for_device(lock, job, stop):
                    self.run_job(job)
            ran += 1
        return ran

    def wait_for_device(self, lock: DeviceLock, job: JobView, stop: threading.Event) -> bool:
        """Hold `lock` for `job`, meanwhile showing on the job who holds the device. False
        when the job was cancelled or the worker stopped first (the job is finished so)."""
        shown = None
        try:
            while not lock.acquire(job.id):
                message = lock.waiting_message()
                if self.jobs.wait(job.id, message):
                    self.jobs.finish(job.id, JobStatus.CANCELLED, error=NOT_STARTED)
                    return False
                if message != shown:
                    self.log(f"job {job.id}: {message}")
                    shown = message
                if stop.wait(self.settings.worker_poll_seconds):
                    self.jobs.finish(job.id, JobStatus.FAILED, error=STOPPED_WAITING)
                    return False
        except WorkerStopped:
            self.jobs.finish(job.id, JobStatus.FAILED, error=STOPPED_WAITING)
            raise
        self.jobs.start(job.id)
        return True

    def run_job(self, job: JobView) -> None:
        from mmgui.training.finetune import FinetuneSettings, finetune_version

        self.log(f"job {job.id}: {job.mode} finetune on {self.device} ({self.name})")
        beating = threading.Event()
        heart = threading.Thread(target=self._beat, args=(job.id, beating), daemon=True)
        heart.start()
        try:
            active = self.active_version()
            tuning = FinetuneSettings.from_params(job.params)
            result = finetune_version(
                active,
                corrected_items(self.store),
                self.settings.models_dir / version_name(job),
                self.settings,
                tuning,
                on_epoch=lambda record: self.jobs.report(job.id, _timed(record, tuning.epochs)),
                device=self.device,
                job_id=job.id,
                data_dir=job.params.get("data_dir") or self.settings.replay_data or None,
                mode=job.mode,
            )
            metrics = {
                "eval": _summary(result.metrics),
                "active_eval": _summary(result.active_metrics),
            }
            self.versions.register(
                result.version.name, result.version.name, metrics,
                parent=active.name, job_id=job.id, flagged=result.flagged,
            )  # fmt: skip
            self.jobs.finish(job.id, JobStatus.DONE, version=result.version.name)
            self.log(f"job {job.id}: done → {result.version.name} ({result.seconds:.0f} s)")
        except WorkerStopped:
            self.jobs.finish(
                job.id, JobStatus.FAILED, error="the worker was stopped mid-job; queue it again"
            )
            raise
        except JobCancelled:
            self.jobs.finish(job.id, JobStatus.CANCELLED, error="cancelled by a user")
            self.log(f"job {job.id}: cancelled")
        except MmguiError as err:
            self.jobs.finish(job.id, JobStatus.FAILED, error=str(err))
            self.log(f"job {job.id}: failed: {err}")
        except Exception as err:  # a bug: the job says so, the worker lives on
            self.jobs.finish(job.id, JobStatus.FAILED, error=f"internal error: {err!r}")
            self.log(traceback.format_exc())
        finally:
            beating.set()
            heart.join()

    def active_version(self) -> Path:
        active = self.versions.ensure_active(self.settings.default_model_dir)
        return self.settings.models_dir / active.path

    def _beat(self, job_id: int, done: threading.Event) -> None:
        while not done.wait(HEARTBEAT_SECONDS):
            self.jobs.heartbeat(job_id)


def _timed(record: dict, max_epochs: int) -> dict:
    """An epoch's record as the job keeps it: with when it ended and the epoch cap, from which
    the Training tab estimates the time left."""
    return {**record, "at": datetime.now(UTC).isoformat(), "max_epochs": max_epochs}


def _summary(metrics: dict) -> dict:
    keys = ("n_items", "macro_roc_auc", "micro_f1", "macro_f1", "samples_f1")
    out = {k: metrics[k] for k in keys if k in metrics}
    out["per_genre"] = metrics.get("per_genre", {})
    if "test" in metrics:
        out["test"] = {k: metrics["test"][k] for k in keys}
    return out


def main_loop(settings: Settings, once: bool = False) -> int:
    """The `worker` command: run jobs until stopped (SIGTERM / SIGINT end it cleanly)."""

    def stop(signum: int, _frame: object) -> None:
        # Once is enough: Ctrl-C reaches the studio's worker directly and then again through
        # `stop_worker`, and a second stop must not cut short the job's "stopped" record.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        raise WorkerStopped(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    worker = Worker(settings, log=lambda message: print(message, flush=True))
    print(f"worker {worker.name} on {worker.device}, database {settings.db_url}", flush=True)
    try:
        return worker.run(once=once)
    except WorkerStopped as why:
        print(f"worker {worker.name} stopped ({why})", flush=True)
        return 0


def spawn_worker(settings: Settings) -> subprocess.Popen:
    """A worker process on the studio's database, models, media and cache (`python app.py`
    starts one; it ends when the studio does)."""
    env = {
        **os.environ,
        "MMGUI_DB_URL": settings.db_url,
        "MMGUI_MODELS_DIR": str(Path(settings.models_dir).resolve()),
        "MMGUI_MEDIA_DIR": str(Path(settings.media_dir).resolve()),
        "MMGUI_CACHE_DIR": str(Path(settings.cache_dir).resolve()),
        "MMGUI_DEVICE": settings.device,
        "PYTHONPATH": child_pythonpath(),
    }
    return subprocess.Popen([sys.executable, "-m", "mmgui", "worker"], env=env)


def stop_worker(process: subprocess.Popen, timeout: float = STOP_SECONDS) -> int:
    """Stop a worker from `spawn_worker` and reap it: SIGTERM (its running job is failed with
    "stopped mid-job"), then SIGKILL if it has not exited within `timeout`. Returns its exit
    status."""
    if process.poll() is None:
        process.terminate()
        try:
            return process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
    return process.wait()


def wait_for(jobs: JobQueue, job_id: int, timeout: float) -> JobView:
    """Poll until the job ends (tests, benchmarks, the CLI's --wait)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = jobs.get(job_id)
        if job.status in FINISHED_JOBS:
            return job
        time.sleep(0.5)
    raise MmguiError(f"job {job_id} did not finish within {timeout:.0f} s")
