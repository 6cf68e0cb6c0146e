"""Studio users from a JSON file: salted PBKDF2 password hashes and a role each.

    {"users": [{"username": "ana", "role": "editor",
                "password": "pbkdf2_sha256$600000$<salt hex>$<hash hex>"}]}

`python -m mmgui add-user --auth users.json --username ana --role editor` writes entries (the
file is replaced atomically); `python app.py --auth users.json` asks for a login. No password
is ever stored in clear. A login costs the same hashing whether or not the username exists,
and failed logins are throttled per username and per client before anything is hashed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from mmgui.config import Settings
from mmgui.errors import MmguiError
from mmgui.files import write_atomically


class Role(StrEnum):
    """What a studio user may do: editors review; admins also import, bulk-edit, promote and
    roll back (see `serve.actions`)."""

    EDITOR = "editor"
    ADMIN = "admin"


LOCAL_USER = "local"  # who is at the keyboard without `--auth` (an admin)
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
        if user.role not in tuple(Role):
            raise MmguiError(f"{path}: user {user.username!r} has unknown role {user.role!r}")
        if not user.password.startswith(f"{SCHEME}$"):
            raise MmguiError(f"{path}: user {user.username!r} has no {SCHEME} password hash")
    return {user.username: user for user in users}


def add_user(path: Path, username: str, password: str, role: str) -> None:
    """Add or replace a user in the auth file (created if missing), written atomically."""
    if role not in tuple(Role):
        raise MmguiError(f"role must be one of {', '.join(Role)}")
    if not username.strip():
        raise MmguiError("the username is empty")
    path = Path(path)
    users = read_users(path) if path.exists() else {}
    users[username] = User(username, role, hash_password(password))
    payload = {"users": [vars(u) for u in users.values()]}
    write_atomically(path, lambda handle: json.dump(payload, handle, indent=2))


class LoginThrottled(MmguiError):
    """Too many failed logins for this username or from this client; `retry_after` seconds."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"too many failed logins; try again in {max(1, round(retry_after))} s")
        self.retry_after = retry_after


class LoginThrottle:
    """Login attempts per username and per client address in a sliding window.

    An attempt counts as failed from the moment it is admitted until `succeeded` takes it
    back, so parallel attempts cannot all slip in before the first failure is recorded.
    Thread-safe; memory is bounded by the attempts of one window.
    """

    def __init__(
        self, max_failures: int, window_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._clock = clock
        self._attempts: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()
        self._swept_at = clock()

    def admit(self, username: str, client: str) -> float:
        """0 when the attempt may go on (it is then counted), else the seconds to wait."""
        now = self._clock()
        keys = [("user", username), ("client", client)]
        with self._lock:
            self._sweep(now)
            waits = [self._wait(key, now) for key in keys]
            if max(waits) > 0:
                return max(waits)
            for key in keys:
                self._attempts.setdefault(key, deque()).append(now)
        return 0.0

    def succeeded(self, username: str, client: str) -> None:
        """The admitted attempt was a good login: it does not count against either key."""
        with self._lock:
            for key in (("user", username), ("client", client)):
                if self._attempts.get(key):
                    self._attempts[key].pop()

    def _wait(self, key: tuple[str, str], now: float) -> float:
        times = self._attempts.get(key)
        while times and now - times[0] >= self.window_s:
            times.popleft()
        if not times or len(times) < self.max_failures:
            return 0.0
        return times[-self.max_failures] + self.window_s - now

    def _sweep(self, now: float) -> None:
        if now - self._swept_at < self.window_s:
            return
        self._swept_at = now
        for key in [k for k, t in self._attempts.items() if not t or now - t[-1] >= self.window_s]:
            del self._attempts[key]


class LoginChecker:
    """Checks a login with the same hashing work whether or not the username exists (a
    dummy hash at the dearest iteration count of the file stands in for unknown users), and
    refuses throttled attempts before any hashing."""

    def __init__(self, users: dict[str, User], throttle: LoginThrottle) -> None:
        self.users = users
        self.throttle = throttle
        iterations = max((_iterations(u.password) for u in users.values()), default=ITERATIONS)
        self._dummy = hash_password(secrets.token_hex(16), iterations)

    @classmethod
    def open(cls, settings: Settings) -> LoginChecker:
        throttle = LoginThrottle(settings.login_max_failures, settings.login_window_s)
        return cls(read_users(Path(settings.auth_file)), throttle)

    def check(self, username: str, password: str, client: str = "") -> bool:
        """Whether the login is good: `admit`, then `verify`."""
        self.admit(username, client)
        return self.verify(username, password, client)

    def admit(self, username: str, client: str) -> None:
        """Count the attempt, or raise `LoginThrottled` (cheap: nothing is hashed) when this
        username or client has failed `login_max_failures` times within `login_window_s`."""
        retry_after = self.throttle.admit(username, client)
        if retry_after > 0:
            raise LoginThrottled(retry_after)

    def verify(self, username: str, password: str, client: str) -> bool:
        """The password check of an admitted attempt (the slow part); a good login is taken
        back from the failure counts."""
        user = self.users.get(username)
        good = check_password(password, user.password if user else self._dummy)
        if good and user is not None:
            self.throttle.succeeded(username, client)
            return True
        return False


def _iterations(encoded: str) -> int:
    try:
        return int(encoded.split("$")[1])
    except (IndexError, ValueError):
        return ITERATIONS


def role_of(auth_file: str, username: str) -> Role:
    """A user's role: from the auth file (an editor if they are not in it), or admin for the
    single local user (no auth)."""
    if not auth_file:
        return Role.ADMIN
    user = read_users(Path(auth_file)).get(username)
    return Role(user.role) if user else Role.EDITOR
