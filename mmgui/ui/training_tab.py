"""The Training tab: queue a finetuning job, watch its curves as the worker reports them,
cancel it. Layout and wiring only; jobs live in `serve.models.ModelManager`."""

from __future__ import annotations

import gradio as gr
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from mmgui.errors import MmguiError
from mmgui.serve.models import ModelManager
from mmgui.store.jobs import JobView
from mmgui.ui.job_table import JOB_COLUMNS, job_rows
from mmgui.ui.users import current_user

POLL_SECONDS = 2.0
TAB_LABEL = "Training"


def build(manager: ModelManager) -> gr.Timer:
    """The tab's contents; returns its poll timer, inactive until `poll_while_shown` turns it
    on (the app wires that to the tab bar)."""
    gr.Markdown(
        "Finetuning learns from the items editors accepted or corrected (plus a replay of the "
        "original training data) in a worker process; the new version appears under **Models** "
        "with its metrics next to the active version's, and is served only once promoted."
    )
    with gr.Row():
        no_gpu = manager.full_mode_unavailable()
        mode = gr.Radio(
            [("heads only (CPU)", "heads")] + ([] if no_gpu else [("full finetune (GPU)", "full")]),
            value="heads",
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

    def refresh(job_id: int | None):
        manager.sync()  # another process may have promoted a version
        recent = manager.recent_jobs()
        choices = [(f"job {j.id} ({j.status})", j.id) for j in recent]
        chosen = job_id if job_id in {j.id for j in recent} else (recent[0].id if recent else None)
        job = next((j for j in recent if j.id == chosen), None)
        return job_rows(recent), gr.Dropdown(choices=choices, value=chosen), _figure(job)

    def train_now(chosen_mode: str, request: gr.Request):
        username = current_user(request)
        try:
            job_id = manager.train_now(username, chosen_mode)
        except MmguiError as err:
            return f"⚠️ {err}", *refresh(None)
        return f"Job {job_id} queued; a worker picks it up within seconds.", *refresh(job_id)

    def cancel_job(job_id: int | None, request: gr.Request):
        if job_id is None:
            return "No job selected.", *refresh(None)
        try:
            status = manager.cancel(int(job_id), current_user(request))
        except MmguiError as err:
            return f"⚠️ {err}", *refresh(job_id)
        text = {
            "cancelled": f"Job {job_id} cancelled before it started.",
            "running": f"Job {job_id} stops at the end of its current epoch "
            "(at once if it still waits for the device).",
        }.get(status, f"Job {job_id} is already {status}.")
        return text, *refresh(job_id)

    outputs = [jobs, selected, curves]
    train.click(train_now, [mode], [message, *outputs], api_name="train_now")
    cancel.click(cancel_job, [selected], [message, *outputs], api_name="cancel_job")
    timer.tick(refresh, [selected], outputs, api_name="training_status", show_progress="hidden")
    selected.input(refresh, [selected], outputs, show_progress="hidden")
    return timer


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
