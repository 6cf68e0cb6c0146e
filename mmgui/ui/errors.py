"""Project errors in the UI: a handler's `MmguiError` reaches the user as Gradio's error modal."""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import Callable, Iterator
from typing import TypeVar

import gradio as gr

from mmgui.errors import MmguiError

Handler = TypeVar("Handler", bound=Callable)


def user_errors(handler: Handler) -> Handler:
    """`handler` with each `MmguiError` it raises re-raised as `gr.Error` carrying the same
    message (and the original as its cause), shown with Gradio's defaults; other exceptions
    pass through unchanged.

    Works on plain functions, coroutine functions, generators and async generators: the
    wrapper is of the same kind, and keeps the handler's name and signature (Gradio reads them
    for the default API name and for `gr.Request` and `gr.Progress` parameters)."""
    if inspect.isasyncgenfunction(handler):

        @functools.wraps(handler)
        async def wrapper(*args, **kwargs):
            with _shown_to_user():
                async for value in handler(*args, **kwargs):
                    yield value

    elif inspect.iscoroutinefunction(handler):

        @functools.wraps(handler)
        async def wrapper(*args, **kwargs):
            with _shown_to_user():
                return await handler(*args, **kwargs)

    elif inspect.isgeneratorfunction(handler):

        @functools.wraps(handler)
        def wrapper(*args, **kwargs):
            with _shown_to_user():
                return (yield from handler(*args, **kwargs))

    else:

        @functools.wraps(handler)
        def wrapper(*args, **kwargs):
            with _shown_to_user():
                return handler(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


@contextlib.contextmanager
def _shown_to_user() -> Iterator[None]:
    try:
        yield
    except MmguiError as err:
        raise gr.Error(str(err)) from err
