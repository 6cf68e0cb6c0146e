"""The Models tab: versions side by side, per-genre changes, promote (admins), roll back
(asked first, one step back through the promotion history per rollback). Filled when the page
loads and whenever the tab is opened. Layout and wiring only; versions live in
`serve.models.ModelManager`."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from mmgui.errors import MmguiError
from mmgui.serve.actions import NeedsConfirmation
from mmgui.serve.models import ModelManager
from mmgui.ui.errors import user_errors
from mmgui.ui.users import current_user

VERSION_COLUMNS = ["version", "active", "flagged", "created (UTC)", "parent", "job",
                   "eval AUC", "parent's eval AUC", "eval micro-F1", "parent's eval micro-F1",
                   "test AUC", "test micro-F1"]  # fmt: skip
DELTA_COLUMNS = ["genre", "eval positives", "ROC-AUC", "Δ ROC-AUC", "F1", "Δ F1"]


@dataclass(frozen=True)
class Panel:
    """The versions, the one chosen with its per-genre changes, and the promote and rollback
    controls."""

    refresh_button: gr.Button
    rollback: gr.Button
    confirm_rollback: gr.Button
    active: gr.Markdown
    versions: gr.Dataframe
    chosen: gr.Dropdown
    confirm: gr.Checkbox
    promote: gr.Button
    message: gr.Markdown
    deltas: gr.Dataframe
    rollback_to: gr.State

    @property
    def outputs(self) -> list:
        """What `Handlers.refresh` returns, in its order."""
        return [self.active, self.versions, self.chosen, self.deltas]

    @property
    def asked(self) -> list:
        """What `Handlers.ask_rollback` returns, in its order."""
        return [self.message, self.confirm_rollback, self.rollback_to]


def build(manager: ModelManager, shown: list) -> None:
    """`shown`: the events on which the tab is filled (e.g. the page's load, the tab's select)."""
    panel = _layout()
    _wire(Handlers(manager), panel, shown)


def _layout() -> Panel:
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
    return Panel(refresh_button, rollback, confirm_rollback, active, versions, chosen, confirm,
                 promote, message, deltas, rollback_to)  # fmt: skip


class Handlers:
    """The tab's event handlers on `manager`; their names are the events' default API names."""

    def __init__(self, manager: ModelManager) -> None:
        self.manager = manager

    def refresh(self, name: str | None):
        manager = self.manager
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

    @user_errors
    def do_promote(self, name: str | None, confirmed: bool, request: gr.Request):
        if not name:
            return "Pick a version.", *self.refresh(None)
        try:
            self.manager.promote(name, current_user(request), confirmed=confirmed)
        except NeedsConfirmation as err:
            return f"⚠️ {err}", *self.refresh(name)
        return (
            f"{name} is now served (no restart needed); every new prediction records it.",
            *self.refresh(name),
        )

    @user_errors
    def ask_rollback(self, request: gr.Request):
        question, target = self.manager.rollback_question(current_user(request))
        return f"⚠️ {question}", gr.Button(visible=True), target

    @user_errors
    def do_rollback(self, target: str | None, request: gr.Request):
        try:
            version = self.manager.rollback(current_user(request), confirmed_version=target)
        except NeedsConfirmation:  # the history moved since the question was asked
            return *self.ask_rollback(request), *self.refresh(None)
        return (
            f"Rolled back: {version.name} is served again.",
            gr.Button(visible=False),
            None,
            *self.refresh(version.name),
        )


def _wire(handlers: Handlers, panel: Panel, shown: list) -> None:
    refresh, outputs, asked = handlers.refresh, panel.outputs, panel.asked
    one_queue = {"concurrency_id": "models_refresh"}
    panel.refresh_button.click(
        refresh, [panel.chosen], outputs, api_name="models_status", **one_queue
    )
    gr.on(shown, refresh, [panel.chosen], outputs, show_progress="hidden", **one_queue)
    panel.chosen.input(refresh, [panel.chosen], outputs, **one_queue)
    panel.promote.click(
        handlers.do_promote, [panel.chosen, panel.confirm], [panel.message, *outputs],
        api_name="promote",
    )  # fmt: skip
    panel.rollback.click(handlers.ask_rollback, None, asked, api_name="rollback")
    panel.confirm_rollback.click(
        handlers.do_rollback, [panel.rollback_to], [*asked, *outputs], api_name="rollback_confirm"
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
