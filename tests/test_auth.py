"""Studio logins: hashed passwords in a users file, checked by the app's login."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

from mmgui.__main__ import main
from mmgui.config import Settings
from mmgui.errors import MmguiError
from mmgui.serve.auth import add_user, check_password, hash_password, login_checker, read_users
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
    assert login_checker(path)("ana", "pw-from-stdin")
    assert not login_checker(path)("ana", "wrong")


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
    ReviewService.open(studio).import_catalogue(KAGGLE_FIXTURE)
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
        _, label = client.predict(
            poster_path=None, title_text="", overview_text="A comedy.", api_name="/predict"
        )
        assert len(label["confidences"]) == 18
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
