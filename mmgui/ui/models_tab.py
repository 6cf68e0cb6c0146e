"""The Models tab: versions side by side, per-genre changes, promote (admins), roll back
(asked first, one step back through the promotion history per rollback). Filled when the page
loads and whenever the tab is opened. Layout and wiring only; versions live in
`serve.models.ModelManager`."""

from __future__ import annotations

import gradio as gr

from mmgui.errors import MmguiError
from mmgui.serve.actions import NeedsConfirmation
from mmgui.serve.models import ModelManager
from mmgui.ui.users import current_user

VERSION_COLUMNS = ["version", "active", "flagged", "created (UTC)", "parent", "job",
                   "eval AUC", "parent's eval AUC", "eval micro-F1", "parent's eval micro-F1",
                   "test AUC", "test micro-F1"]  # fmt: skip
DELTA_COLUMNS = ["genre", "eval positives", "ROC-AUC", "Δ ROC-AUC", "F1", "Δ F1"]


def build(manager: ModelManager, shown: list) -> None:
    """`shown`: the events on which the tab is filled (e.g. the page's load, the tab's select)."""
    rollback_to = gr.State(None)
    with gr.Row():
        refresh_button = gr.Button("Refresh", size="sm")
        rollback = gr.Button(
            "Roll back to the previous version (admin)", variant="stop", elem_id="models-rollback"
        )
        confirm_rollback = gr.Button(
            "Confirm the rollback", variant="stop", visible=False, elem_id="models-confirm-rollback"
        )
    active = gr.Markdown(elem_id="models-active")
    versions = gr.Dataframe(headers=VERSION_COLUMNS, label="Versions", interactive=False)
    with gr.Row():
        chosen = gr.Dropdown(label="Version", choices=[], interactive=True)
        confirm = gr.Checkbox(label="Promote even though it is flagged as worse", value=False)
        promote = gr.Button("Promote (admin)", variant="primary")
    message = gr.Markdown(elem_id="models-message")
    deltas = gr.Dataframe(
        headers=DELTA_COLUMNS,
        label="Per genre, against the version it was tuned from",
        interactive=False,
    )

    def refresh(name: str | None):
        current = manager.sync()
        rows = manager.versions.all()
        names = [v.name for v in rows]
        name = name if name in names else (rows[0].name if rows else None)
        header = f"**Serving {current.name}**" + (
            f", promoted by {current.promoted_by}" if current.promoted_by else ""
        )
        return (
            header,
            _version_rows(rows),
            gr.Dropdown(choices=names, value=name),
            _delta_rows(manager, name),
        )

    def do_promote(name: str | None, confirmed: bool, request: gr.Request):
        if not name:
            return "Pick a version.", *refresh(None)
        try:
            manager.promote(name, current_user(request), confirmed=confirmed)
        except NeedsConfirmation as err:
            return f"⚠️ {err}", *refresh(name)
        except MmguiError as err:
            raise gr.Error(str(err)) from err
        return (
            f"{name} is now served (no restart needed); every new prediction records it.",
            *refresh(name),
        )

    def ask_rollback(request: gr.Request):
        try:
            question, target = manager.rollback_question(current_user(request))
        except MmguiError as err:
            raise gr.Error(str(err)) from err
        return f"⚠️ {question}", gr.Button(visible=True), target

    def do_rollback(target: str | None, request: gr.Request):
        try:
            version = manager.rollback(current_user(request), confirmed_version=target)
        except NeedsConfirmation:  # the history moved since the question was asked
            return *ask_rollback(request), *refresh(None)
        except MmguiError as err:
            raise gr.Error(str(err)) from err
        return (
            f"Rolled back: {version.name} is served again.",
            gr.Button(visible=False),
            None,
            *refresh(version.name),
        )

    outputs = [active, versions, chosen, deltas]
    asked = [message, confirm_rollback, rollback_to]
    refresh_button.click(refresh, [chosen], outputs, api_name="models_status")
    gr.on(shown, refresh, [chosen], outputs, show_progress="hidden")
    chosen.input(refresh, [chosen], outputs)
    promote.click(do_promote, [chosen, confirm], [message, *outputs], api_name="promote")
    rollback.click(ask_rollback, None, asked, api_name="rollback")
    confirm_rollback.click(
        do_rollback, [rollback_to], [*asked, *outputs], api_name="rollback_confirm"
    )


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def _version_rows(rows) -> list[list]:
    table = []
    for v in rows:
        mine, base = v.metrics.get("eval", {}), v.metrics.get("active_eval", {})
        test = mine.get("test") or v.metrics  # a shipped version keeps its test metrics on top
        table.append([
            v.name, "★" if v.is_active else "", v.flagged or "", f"{v.created_at:%Y-%m-%d %H:%M}",
            v.parent or "", v.job_id or "", _fmt(mine.get("macro_roc_auc")),
            _fmt(base.get("macro_roc_auc")), _fmt(mine.get("micro_f1")), _fmt(base.get("micro_f1")),
            _fmt(test.get("macro_roc_auc")), _fmt(test.get("micro_f1")),
        ])  # fmt: skip
    return table


def _delta_rows(manager: ModelManager, name: str | None) -> list[list]:
    if not name:
        return []
    try:
        deltas = manager.compare(name)
    except MmguiError:
        return []
    return [
        [d.genre, d.support, _fmt(d.auc), _signed(d.auc_delta), f"{d.f1:.3f}", _signed(d.f1_delta)]
        for d in deltas
    ]


def _signed(value: float | None) -> str:
    return "" if value is None else f"{value:+.3f}"
