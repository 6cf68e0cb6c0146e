"""`python -m mmgui worker`: claims training jobs from the database and runs them, one at a time.

Never inside a web request: `python app.py` starts one of these as its own process (unless
`--no-worker`), and any number can run on other hosts against one PostgreSQL database. On one
host, a lock file per device makes a second job wait while the device is busy. A job's new
version folder is written atomically (`training.registry.write_version`) and only then
registered, so a worker killed mid-job leaves no version and the active model untouched; the
next worker to start marks that job failed with the reason.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from mmgui.config import PROJECT_ROOT, Settings
from mmgui.errors import MmguiError
from mmgui.store.catalogue import corrected_items
from mmgui.store.jobs import JobCancelled, JobQueue, JobView, this_worker
from mmgui.store.review import ReviewStore
from mmgui.store.versions import VersionTable

HEARTBEAT_SECONDS = 10.0
STOP_SECONDS = 30.0  # a stopped worker that has not exited by then is killed


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


@contextmanager
def device_lock(settings: Settings, device: str) -> Iterator[None]:
    """Hold this host's lock on `device` (blocks while another worker's job uses it)."""
    folder = settings.cache_dir / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"{device}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


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
            with device_lock(self.settings, self.device):
                job = self.jobs.claim(self.name, self.device)
                if job is not None:
                    self.run_job(job)
                    ran += 1
            if job is None:
                if once:
                    break
                stop.wait(self.settings.worker_poll_seconds)
        return ran

    def run_job(self, job: JobView) -> None:
        from mmgui.training.finetune import FinetuneSettings, finetune_version

        self.log(f"job {job.id}: {job.mode} finetune on {self.device} ({self.name})")
        beating = threading.Event()
        heart = threading.Thread(target=self._beat, args=(job.id, beating), daemon=True)
        heart.start()
        try:
            active = self.active_version()
            result = finetune_version(
                active,
                corrected_items(self.store),
                self.settings.models_dir / version_name(job),
                self.settings,
                FinetuneSettings.from_params(job.params),
                on_epoch=lambda record: self.jobs.report(job.id, record),
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
            self.jobs.finish(job.id, "done", version=result.version.name)
            self.log(f"job {job.id}: done → {result.version.name} ({result.seconds:.0f} s)")
        except WorkerStopped:
            self.jobs.finish(
                job.id, "failed", error="the worker was stopped mid-job; queue it again"
            )
            raise
        except JobCancelled:
            self.jobs.finish(job.id, "cancelled", error="cancelled by a user")
            self.log(f"job {job.id}: cancelled")
        except MmguiError as err:
            self.jobs.finish(job.id, "failed", error=str(err))
            self.log(f"job {job.id}: failed: {err}")
        except Exception as err:  # a bug: the job says so, the worker lives on
            self.jobs.finish(job.id, "failed", error=f"internal error: {err!r}")
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
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")])
        ),
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
        if job.status in ("done", "failed", "cancelled"):
            return job
        time.sleep(0.5)
    raise MmguiError(f"job {job_id} did not finish within {timeout:.0f} s")
