"""The Training and Models tabs through their API, and the worker process the studio starts."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator

import gradio as gr
import pytest
from gradio_client import Client

from mmgui.config import Settings
from mmgui.serve.review import ReviewService
from mmgui.serve.studio import Studio
from mmgui.ui.app import build_app, launch_options
from mmgui.worker import Worker, spawn_worker, wait_for

from .conftest import KAGGLE_FIXTURE


@pytest.fixture
def settings(loop_settings: Settings) -> Settings:
    return loop_settings


@pytest.fixture
def review(settings: Settings) -> ReviewService:
    review = ReviewService.open(Studio(settings))
    review.catalogue.import_catalogue(KAGGLE_FIXTURE)
    for entry in review.store.queue(limit=8):
        item = review.item(entry.id)
        review.store.decide(item.id, "ana", [*(item.labels or []), "Western"], item.version)
    return review


@pytest.fixture
def client(review: ReviewService, settings: Settings) -> Iterator[Client]:
    app = build_app(review.studio, review)
    app.launch(
        **{**launch_options(settings), "server_port": None}, prevent_thread_lock=True, quiet=True
    )
    try:
        yield Client(app.local_url, verbose=False)
    finally:
        app.close()


def test_train_watch_promote_and_roll_back_through_the_api(
    client: Client, review: ReviewService, settings: Settings
) -> None:
    message, *_ = client.predict("heads", api_name="/train_now")
    assert message.startswith("Job 1 queued")
    assert Worker(settings, log=lambda _: None).run(once=True) == 1
    table, _, figure = client.predict(None, api_name="/training_status")
    row = table["data"][0]
    assert row[:3] == [1, "done", "heads"] and row[12] > 0 and row[13] == "v0001-heads"
    assert row[6] and row[7] and row[8].endswith(" s") and row[9] == ""  # started … left
    assert "v0001-heads" in str(figure)  # the plot's title names the new version

    header, versions, _, deltas = client.predict(None, api_name="/models_status")
    assert header.startswith("**Serving default**")
    assert {r[0] for r in versions["data"]} == {"default", "v0001-heads"}
    assert deltas["headers"][0] == "genre"
    message, header, *_ = client.predict("v0001-heads", True, api_name="/promote")
    assert "v0001-heads is now served" in message and "Serving v0001-heads" in header
    client.predict(
        poster_path=None, title_text="", overview_text="A cowboy rides west.", api_name="/predict"
    )
    assert review.studio.predictor.name == "v0001-heads"
    question = client.predict(api_name="/rollback")  # the button and state are not returned
    assert "Roll back from v0001-heads to default?" in question
    assert review.studio.predictor.name == "v0001-heads"  # asked, not done
    message, *_ = client.predict(api_name="/rollback_confirm")
    assert (
        message == "Rolled back: default is served again."
        and review.studio.predictor.name == "default"
    )


def test_the_models_tab_fills_itself_and_shows_the_flag_up_front(
    client: Client, review: ReviewService
) -> None:
    review.manager.versions.register("v9", "default", {}, parent="default", flagged="F1 down")
    _, versions, *_ = client.predict(None, api_name="/models_status")
    row = next(r for r in versions["data"] if r[0] == "v9")
    assert versions["headers"].index("flagged") == 2 and row[2] == "F1 down"
    app = build_app(review.studio, review)
    (table,) = [b for b in app.blocks.values() if getattr(b, "label", None) == "Versions"]
    (tab,) = [b for b in app.blocks.values() if isinstance(b, gr.Tab) and b.label == "Models"]
    fills = [set(fn.targets) for fn in app.fns.values() if table in fn.outputs]
    assert {(app._id, "load"), (tab._id, "select")} in fills


def test_cancel_in_the_training_tab_is_audited(client: Client, review: ReviewService) -> None:
    job_id = review.manager.jobs.enqueue("ana")
    client.predict(None, api_name="/training_status")  # the job list, as the timer fills it
    message, *_ = client.predict(job_id, api_name="/cancel_job")
    assert message == f"Job {job_id} cancelled before it started."
    (entry,) = [e for e in review.store.audit_log() if e.action == "cancel_job"]
    assert entry.username == "local" and entry.detail["requested_by"] == "ana"


@pytest.mark.parametrize("cuda", [False, True])
def test_full_finetuning_is_offered_only_with_cuda(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, cuda: bool
) -> None:
    import torch

    import mmgui.serve.models

    monkeypatch.setattr(mmgui.serve.models, "nvidia_device_present", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    app = build_app(Studio(settings))
    (mode,) = [b for b in app.blocks.values() if getattr(b, "label", None) == "Mode"]
    assert [value for _, value in mode.choices] == (["heads", "full"] if cuda else ["heads"])
    assert (mode.info is None) == cuda and (cuda or "needs a CUDA GPU" in mode.info)


def test_without_an_nvidia_device_torch_is_not_asked(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    import mmgui.serve.models

    def asked() -> bool:
        raise AssertionError("torch was asked about CUDA on a machine with no NVIDIA device")

    monkeypatch.setattr(mmgui.serve.models, "nvidia_device_present", lambda: False)
    monkeypatch.setattr(torch.cuda, "is_available", asked)
    app = build_app(Studio(settings))
    (mode,) = [b for b in app.blocks.values() if getattr(b, "label", None) == "Mode"]
    assert [value for _, value in mode.choices] == ["heads"]
    assert "shows no NVIDIA device" in mode.info


def test_the_studio_worker_process_runs_jobs_and_stops_cleanly(
    review: ReviewService, settings: Settings
) -> None:
    process = spawn_worker(settings)
    try:
        job = wait_for(review.manager.jobs, review.manager.train_now("ana"), 180)
        assert job.status == "done", job.error
        slow = review.manager.jobs.enqueue("ana", epochs=100_000, patience=100_000)
        deadline = time.monotonic() + 120
        while not review.manager.jobs.get(slow).progress and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
    stopped = review.manager.jobs.get(slow)
    assert stopped.status == "failed" and "stopped mid-job" in stopped.error
    assert not list(settings.models_dir.glob(".*.tmp"))
