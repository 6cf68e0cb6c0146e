"""Studio users from a JSON file: salted PBKDF2 password hashes and a role each.

    {"users": [{"username": "ana", "role": "editor",
                "password": "pbkdf2_sha256$600000$<salt hex>$<hash hex>"}]}

`python -m mmgui add-user --auth users.json --username ana --role editor` writes entries (the
file is replaced atomically); `python app.py --auth users.json` asks for a login. No password
is ever stored in clear.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mmgui.errors import MmguiError

ROLES = ("editor", "admin")
ITERATIONS = 600_000  # OWASP's 2023 figure for PBKDF2-HMAC-SHA256
SCHEME = "pbkdf2_sha256"


@dataclass(frozen=True)
class User:
    username: str
    role: str
    password: str  # the encoded hash


def hash_password(password: str, iterations: int = ITERATIONS) -> str:
    if not password:
        raise MmguiError("the password is empty")
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    return f"{SCHEME}${iterations}${salt.hex()}${digest.hex()}"


def check_password(password: str, encoded: str) -> bool:
    try:
        scheme, iterations, salt, digest = encoded.split("$")
        expected = bytes.fromhex(digest)
        got = hashlib.pbkdf2_hmac("sha256", password.encode(), bytes.fromhex(salt), int(iterations))
    except ValueError:
        return False
    return scheme == SCHEME and hmac.compare_digest(got, expected)


def read_users(path: Path) -> dict[str, User]:
    """The users of an auth file, by name; `MmguiError` says what is wrong with a bad file."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
        users = [User(u["username"], u["role"], u["password"]) for u in data["users"]]
    except FileNotFoundError as err:
        raise MmguiError(f"auth file not found: {path}") from err
    except (json.JSONDecodeError, KeyError, TypeError) as err:
        raise MmguiError(
            f"{path}: not a users file ({err}); see `python -m mmgui add-user`"
        ) from err
    for user in users:
        if user.role not in ROLES:
            raise MmguiError(f"{path}: user {user.username!r} has unknown role {user.role!r}")
        if not user.password.startswith(f"{SCHEME}$"):
            raise MmguiError(f"{path}: user {user.username!r} has no {SCHEME} password hash")
    return {user.username: user for user in users}


def add_user(path: Path, username: str, password: str, role: str) -> None:
    """Add or replace a user in the auth file (created if missing), written atomically."""
    if role not in ROLES:
        raise MmguiError(f"role must be one of {', '.join(ROLES)}")
    if not username.strip():
        raise MmguiError("the username is empty")
    path = Path(path)
    users = read_users(path) if path.exists() else {}
    users[username] = User(username, role, hash_password(password))
    payload = {"users": [vars(u) for u in users.values()]}
    fd, tmp = tempfile.mkstemp(dir=path.parent if str(path.parent) else ".", suffix=".tmp")
    with os.fdopen(fd, "w") as handle:
        json.dump(payload, handle, indent=2)
    os.replace(tmp, path)


def login_checker(path: Path):
    """A `(username, password) -> bool` for Gradio's `launch(auth=...)`."""
    users = read_users(path)

    def check(username: str, password: str) -> bool:
        user = users.get(username)
        return user is not None and check_password(password, user.password)

    return check


def role_of(auth_file: str, username: str) -> str:
    """A user's role: from the auth file, or admin for the single local user (no auth)."""
    if not auth_file:
        return "admin"
    user = read_users(Path(auth_file)).get(username)
    return user.role if user else "editor"
