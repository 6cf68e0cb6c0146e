"""Gradio's login route wired to `serve.auth.LoginChecker`.

Gradio calls the `launch(auth=...)` callable with the username and password only, never the
request, so the client's address comes from an ASGI middleware on the app (passed through
`launch(app_kwargs={"middleware": ...})`) that keeps it in a context variable for the
request's task. The callable is a coroutine, so Gradio awaits it and the event loop keeps
serving predictions while a password is hashed on a small thread pool
(`login_hash_threads`); a throttled attempt is answered at once, before the pool, with 429
and a Retry-After header.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar

from fastapi import HTTPException
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

from mmgui.config import Settings
from mmgui.serve.auth import LoginChecker, LoginThrottled

client_address: ContextVar[str] = ContextVar("client_address", default="")


class ClientAddress:
    """Pure ASGI middleware: the peer address of each HTTP request into `client_address`
    (the socket's peer; forwarded-for headers are not trusted)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            client_address.set((scope.get("client") or ("",))[0])
        await self.app(scope, receive, send)


def login_options(settings: Settings) -> dict:
    """The `launch` keyword arguments for logins from `settings.auth_file`."""
    checker = LoginChecker.open(settings)
    hashing = ThreadPoolExecutor(settings.login_hash_threads, thread_name_prefix="login")
    return {
        "auth": gradio_auth(checker, hashing),
        "app_kwargs": {"middleware": [Middleware(ClientAddress)]},
    }


def gradio_auth(
    checker: LoginChecker, hashing: ThreadPoolExecutor
) -> Callable[[str, str], Awaitable[bool]]:
    async def check(username: str, password: str) -> bool:
        client = client_address.get()
        try:
            checker.admit(username, client)
        except LoginThrottled as err:
            retry = str(math.ceil(err.retry_after))
            raise HTTPException(429, detail=str(err), headers={"Retry-After": retry}) from err
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(hashing, checker.verify, username, password, client)

    return check
