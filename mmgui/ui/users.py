"""Who is at the keyboard: the login of a request, or the single local user without `--auth`."""

from __future__ import annotations

import gradio as gr

from mmgui.serve.auth import LOCAL_USER


def current_user(request: gr.Request | None) -> str:
    return (request.username if request else None) or LOCAL_USER
