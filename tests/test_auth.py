"""Studio logins: hashed passwords in a users file, checked by the app's login."""

from __future__ import annotations

import inspect
import io
import json
from pathlib import Path

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

from mmgui.__main__ import main
from mmgui.config import Settings
from mmgui.errors import MmguiError
from mmgui.serve import auth
from mmgui.serve.auth import (
    LoginChecker,
    LoginThrottle,
    LoginThrottled,
    User,
    add_user,
    check_password,
    hash_password,
    read_users,
)
from mmgui.serve.review import ReviewService
from mmgui.serve.studio import Studio
from mmgui.ui.app import build_app, launch_options
from tests.conftest import KAGGLE_FIXTURE


def test_passwords_are_salted_hashes_that_check() -> None:
    encoded = hash_password("s3cret", iterations=1000)
    assert "s3cret" not in encoded and encoded.startswith("pbkdf2_sha256$1000$")
    assert encoded != hash_password("s3cret", iterations=1000)  # salted
    assert check_password("s3cret", encoded)
    assert not check_password("S3cret", encoded)
    assert not check_password("s3cret", "garbage")


def test_add_user_writes_and_replaces_users(tmp_path: Path) -> None:
    path = tmp_path / "users.json"
    add_user(path, "ana", "one", "editor")
    add_user(path, "bo", "two", "admin")
    add_user(path, "ana", "three", "admin")
    users = read_users(path)
    assert {u: users[u].role for u in users} == {"ana": "admin", "bo": "admin"}
    assert check_password("three", users["ana"].password)
    assert "three" not in path.read_text()
    with pytest.raises(MmguiError, match="role must be"):
        add_user(path, "cy", "x", "owner")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{", "not a users file"),
        (
            json.dumps({"users": [{"username": "a", "role": "boss", "password": "x"}]}),
            "unknown role",
        ),
        (
            json.dumps({"users": [{"username": "a", "role": "editor", "password": "plain"}]}),
            "no pbkdf2_sha256 password hash",
        ),
    ],
)
def test_bad_users_files_are_clear_errors(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "users.json"
    path.write_text(content)
    with pytest.raises(MmguiError, match=message):
        read_users(path)
    with pytest.raises(MmguiError, match="not found"):
        read_users(tmp_path / "missing.json")


def test_cli_add_user_reads_the_password_from_stdin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "users.json"
    monkeypatch.setattr("sys.stdin", io.StringIO("pw-from-stdin\n"))
    assert main(["add-user", "--auth", str(path), "--username", "ana", "--password-stdin"]) == 0
    checker = LoginChecker.open(Settings.load(auth_file=str(path)))
    assert checker.check("ana", "pw-from-stdin")
    assert not checker.check("ana", "wrong")


@pytest.fixture
def hashed(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The iteration count of every PBKDF2 call made while the test runs."""
    calls: list[int] = []
    real = auth.hashlib.pbkdf2_hmac

    def counting(name: str, password: bytes, salt: bytes, iterations: int) -> bytes:
        calls.append(iterations)
        return real(name, password, salt, iterations)

    monkeypatch.setattr(auth.hashlib, "pbkdf2_hmac", counting)
    return calls


def checker_of(max_failures: int = 3, clock=lambda: 0.0) -> LoginChecker:
    users = {"ana": User("ana", "editor", hash_password("right", iterations=2000))}
    return LoginChecker(users, LoginThrottle(max_failures, 60.0, clock))


def test_unknown_and_known_usernames_cost_the_same_hashing(hashed: list[int]) -> None:
    checker = checker_of()
    hashed.clear()
    assert not checker.check("ana", "wrong", "10.0.0.1")
    known = list(hashed)
    hashed.clear()
    assert not checker.check("nobody", "wrong", "10.0.0.2")
    assert hashed == known == [2000]


def test_failed_logins_are_throttled_per_user_and_per_client_without_hashing(
    hashed: list[int],
) -> None:
    now = [0.0]
    checker = checker_of(max_failures=3, clock=lambda: now[0])
    hashed.clear()
    for client in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):
        assert not checker.check("ana", "wrong", client)
    assert len(hashed) == 3
    with pytest.raises(LoginThrottled, match="try again in 60 s"):
        checker.check("ana", "right", "10.0.0.4")  # the user is throttled, even from elsewhere
    for name in ("bo", "cy"):
        assert not checker.check(name, "guess", "10.0.0.1")
    with pytest.raises(LoginThrottled):
        checker.check("dee", "guess", "10.0.0.1")  # the client is throttled, any username
    assert len(hashed) == 5
    now[0] = 61.0
    assert checker.check("ana", "right", "10.0.0.4")  # the window has passed


def test_good_logins_do_not_count_as_failures() -> None:
    checker = checker_of(max_failures=2)
    for _ in range(4):
        assert checker.check("ana", "right", "10.0.0.1")
    assert not checker.check("ana", "wrong", "10.0.0.1")


def test_the_launched_app_refuses_the_login_after_too_many_failures(
    tmp_path: Path, tiny_models: Path, hashed: list[int]
) -> None:
    import httpx

    users = tmp_path / "users.json"
    add_user(users, "ana", "open sesame", "editor")
    settings = Settings.load(
        models_dir=tiny_models,
        cache_dir=tiny_models.parent / "cache",
        auth_file=str(users),
        login_max_failures=2,
    )
    app = build_app(Studio(settings))
    options = launch_options(settings)
    assert inspect.iscoroutinefunction(options["auth"])  # awaited: hashing leaves the loop free
    app.launch(**{**options, "server_port": None}, prevent_thread_lock=True, quiet=True)
    try:
        url = f"{app.local_url.rstrip('/')}/login"
        good = {"username": "ana", "password": "open sesame"}
        assert httpx.post(url, data=good).status_code == 200
        for name in ("ana", "nobody"):
            assert httpx.post(url, data={"username": name, "password": "x"}).status_code == 400
        before = len(hashed)
        refused = httpx.post(url, data=good)
        assert refused.status_code == 429 and "too many failed logins" in refused.text
        assert int(refused.headers["retry-after"]) > 0
        assert len(hashed) == before  # refused without hashing
    finally:
        app.close()


def test_the_app_asks_for_a_login_and_keeps_bulk_edits_for_admins(
    tmp_path: Path, tiny_models: Path
) -> None:
    users = tmp_path / "users.json"
    add_user(users, "ana", "open sesame", "editor")
    add_user(users, "root", "admin pass", "admin")
    settings = Settings.load(
        models_dir=tiny_models, cache_dir=tiny_models.parent / "cache", auth_file=str(users)
    )
    studio = Studio(settings)
    ReviewService.open(studio).catalogue.import_catalogue(KAGGLE_FIXTURE)
    app = build_app(studio)
    app.launch(
        **{**launch_options(settings), "server_port": None}, prevent_thread_lock=True, quiet=True
    )
    try:
        with pytest.raises(Exception):  # noqa: B017 - any refusal will do: no login, no API
            Client(app.local_url, verbose=False).predict(
                poster_path=None, title_text="", overview_text="A comedy.", api_name="/predict"
            )
        client = Client(app.local_url, auth=("ana", "open sesame"), verbose=False)
        _, table, *_ = client.predict(
            poster_path=None, title_text="", overview_text="A comedy.", api_name="/predict"
        )
        assert len(table["data"]) == 18
        bulk = ("Drama", "add", "pending", "(any genre)")
        with pytest.raises(AppError, match="bulk edits are for admins"):
            client.predict(*bulk, api_name="/review_bulk_preview")
        client.predict("newest", "pending", "(any genre)", api_name="/review_load")
        client.predict(["Comedy"], api_name="/review_save")
        admin = Client(app.local_url, auth=("root", "admin pass"), verbose=False)
        assert "This will add" in admin.predict(*bulk, api_name="/review_bulk_preview")
    finally:
        app.close()
    review = ReviewService.open(studio)
    (decided,) = review.store.queue(status="reviewed")
    assert review.item(decided.id).history[0].username == "ana"
