"""The Training tab: queue a finetuning job, watch its curves as the worker reports them,
cancel it. Layout and wiring only; jobs live in `serve.models.ModelManager`."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from mmgui.errors import MmguiError
from mmgui.serve.models import ModelManager
from mmgui.store.enums import JobMode, JobStatus
from mmgui.store.jobs import JobView
from mmgui.ui.job_table import JOB_COLUMNS, job_rows
from mmgui.ui.users import current_user

POLL_SECONDS = 2.0
TAB_LABEL = "Training"


@dataclass(frozen=True)
class Panel:
    """The job controls, the jobs, and the chosen job's curves with their poll timer."""

    mode: gr.Radio
    train: gr.Button
    cancel: gr.Button
    message: gr.Markdown
    jobs: gr.Dataframe
    selected: gr.Dropdown
    curves: gr.Plot
    timer: gr.Timer

    @property
    def outputs(self) -> list:
        """What `Handlers.refresh` returns, in its order."""
        return [self.jobs, self.selected, self.curves]


def build(manager: ModelManager) -> gr.Timer:
    """The tab's contents; returns its poll timer, inactive until `poll_while_shown` turns it
    on (the app wires that to the tab bar)."""
    panel = _layout(manager)
    _wire(Handlers(manager), panel)
    return panel.timer


def _layout(manager: ModelManager) -> Panel:
    gr.Markdown(
        "Finetuning learns from the items editors accepted or corrected (plus a replay of the "
        "original training data) in a worker process; the new version appears under **Models** "
        "with its metrics next to the active version's, and is served only once promoted."
    )
    with gr.Row():
        no_gpu = manager.full_mode_unavailable()
        mode = gr.Radio(
            [("heads only (CPU)", JobMode.HEADS)]
            + ([] if no_gpu else [("full finetune (GPU)", JobMode.FULL)]),
            value=JobMode.HEADS,
            label="Mode",
            info=no_gpu,
        )
        train = gr.Button("Train now", variant="primary", elem_id="train-now")
        cancel = gr.Button("Cancel the selected job", variant="stop", elem_id="training-cancel")
    message = gr.Markdown(elem_id="training-message")
    jobs = gr.Dataframe(
        headers=JOB_COLUMNS, label="Jobs (newest first)", interactive=False, elem_id="training-jobs"
    )
    selected = gr.Dropdown(label="Job", choices=[], interactive=True)
    curves = gr.Plot(label="Training curves")
    timer = gr.Timer(POLL_SECONDS, active=False)
    return Panel(mode, train, cancel, message, jobs, selected, curves, timer)


class Handlers:
    """The tab's event handlers on `manager`; their names are the events' default API names."""

    def __init__(self, manager: ModelManager) -> None:
        self.manager = manager

    def refresh(self, job_id: int | None):
        self.manager.sync()  # another process may have promoted a version
        recent = self.manager.recent_jobs()
        choices = [(f"job {j.id} ({j.status})", j.id) for j in recent]
        chosen = job_id if job_id in {j.id for j in recent} else (recent[0].id if recent else None)
        job = next((j for j in recent if j.id == chosen), None)
        return job_rows(recent), gr.Dropdown(choices=choices, value=chosen), _figure(job)

    def train_now(self, chosen_mode: str, request: gr.Request):
        username = current_user(request)
        try:
            job_id = self.manager.train_now(username, chosen_mode)
        except MmguiError as err:
            return f"⚠️ {err}", *self.refresh(None)
        return f"Job {job_id} queued; a worker picks it up within seconds.", *self.refresh(job_id)

    def cancel_job(self, job_id: int | None, request: gr.Request):
        if job_id is None:
            return "No job selected.", *self.refresh(None)
        try:
            status = self.manager.cancel(int(job_id), current_user(request))
        except MmguiError as err:
            return f"⚠️ {err}", *self.refresh(job_id)
        text = {
            JobStatus.CANCELLED: f"Job {job_id} cancelled before it started.",
            JobStatus.RUNNING: f"Job {job_id} stops at the end of its current epoch "
            "(at once if it still waits for the device).",
        }.get(status, f"Job {job_id} is already {status}.")
        return text, *self.refresh(job_id)


def _wire(handlers: Handlers, panel: Panel) -> None:
    outputs, selected = panel.outputs, panel.selected
    polled = {"concurrency_id": "training_refresh", "show_progress": "hidden"}  # one queue
    train_outputs = [panel.message, *outputs]
    panel.train.click(handlers.train_now, [panel.mode], train_outputs, api_name="train_now")
    panel.cancel.click(handlers.cancel_job, [selected], train_outputs, api_name="cancel_job")
    panel.timer.tick(handlers.refresh, [selected], outputs, api_name="training_status", **polled)
    selected.input(handlers.refresh, [selected], outputs, **polled)


def poll_while_shown(tabs: gr.Tabs, timer: gr.Timer) -> None:
    """Tick `timer` only while the Training tab is the one selected: every open browser tab
    would otherwise query the jobs every `POLL_SECONDS`, seen or not."""

    def toggle(evt: gr.SelectData) -> gr.Timer:
        return gr.Timer(active=evt.value == TAB_LABEL)

    tabs.select(toggle, None, timer, api_name="training_tab_shown", show_progress="hidden")


def _figure(job: JobView | None) -> go.Figure:
    figure = make_subplots(specs=[[{"secondary_y": True}]])
    title = "no job yet"
    if job is not None:
        epochs = [r["epoch"] for r in job.progress]
        figure.add_trace(
            go.Scatter(x=epochs, y=[r["train_loss"] for r in job.progress], name="train loss"),
            secondary_y=False,
        )
        figure.add_trace(
            go.Scatter(
                x=epochs,
                y=[r["val_macro_roc_auc"] for r in job.progress],
                name="eval macro ROC-AUC",
            ),
            secondary_y=True,
        )
        title = f"job {job.id}: {job.status}" + (
            f" → {job.result_version}" if job.result_version else ""
        )
    figure.update_layout(title=title, height=360, xaxis_title="epoch", hovermode="x unified")
    figure.update_yaxes(title_text="loss", secondary_y=False)
    figure.update_yaxes(title_text="ROC-AUC", secondary_y=True)
    return figure
