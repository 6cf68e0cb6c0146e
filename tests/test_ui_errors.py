"""`user_errors`: a handler's MmguiError reaches the user as gr.Error, whatever its kind."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor

import gradio as gr
import pytest
from gradio.utils import get_type_hints

from mmgui.errors import MmguiError
from mmgui.ui.errors import user_errors

MESSAGE = "the poster is not an image (got 12 bytes of text)"


@user_errors
def plain(fail: bool, request: gr.Request, progress=gr.Progress()) -> str:  # noqa: B008
    if fail:
        raise MmguiError(MESSAGE)
    return "done"


@user_errors
async def coroutine(fail: bool) -> str:
    if fail:
        raise MmguiError(MESSAGE)
    return "done"


@user_errors
def generator(fail: bool):
    yield "first"
    if fail:
        raise MmguiError(MESSAGE)
    yield "second"


@user_errors
async def async_generator(fail: bool):
    yield "first"
    if fail:
        raise MmguiError(MESSAGE)
    yield "second"


def _run_plain(fail: bool) -> list:
    return [plain(fail, None)]


def _in_own_loop(awaitable_of: Callable[[], Coroutine]) -> object:
    """Run a coroutine in a fresh event loop on a thread of its own: the session's Playwright
    browser keeps a loop running on the test thread, where `asyncio.run` refuses to start."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(awaitable_of())).result()


def _run_coroutine(fail: bool) -> list:
    return [_in_own_loop(lambda: coroutine(fail))]


def _run_generator(fail: bool) -> list:
    return list(generator(fail))


def _run_async_generator(fail: bool) -> list:
    async def collect() -> list:
        return [value async for value in async_generator(fail)]

    return _in_own_loop(collect)


RUNS = [_run_plain, _run_coroutine, _run_generator, _run_async_generator]


@pytest.mark.parametrize("run", RUNS)
def test_a_user_error_becomes_gr_error_with_the_same_message(run) -> None:
    with pytest.raises(gr.Error) as caught:
        run(True)
    assert caught.value.message == MESSAGE
    assert isinstance(caught.value.__cause__, MmguiError)


@pytest.mark.parametrize("run", RUNS)
def test_without_an_error_the_handler_returns_or_yields_as_it_would(run) -> None:
    assert run(False) in (["done"], ["first", "second"])


def test_other_exceptions_pass_unchanged() -> None:
    @user_errors
    def buggy() -> None:
        raise KeyError("thresholds")

    with pytest.raises(KeyError):
        buggy()


def test_the_wrapper_keeps_what_gradio_reads() -> None:
    assert inspect.iscoroutinefunction(coroutine)
    assert inspect.isgeneratorfunction(generator)
    assert inspect.isasyncgenfunction(async_generator)
    assert plain.__name__ == "plain"
    parameters = inspect.signature(plain).parameters
    assert list(parameters) == ["fail", "request", "progress"]
    assert isinstance(parameters["progress"].default, gr.Progress)
    assert get_type_hints(plain)["request"] is gr.Request
