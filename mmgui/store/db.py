"""Opening the review database: any SQLAlchemy URL, migrated to the latest schema by Alembic.

SQLite (the default, `sqlite:///mmgui.db`) runs in WAL mode with foreign keys on and a busy
timeout, so the studio and a worker process can share the file; PostgreSQL is a URL away
(`postgresql+psycopg://user:password@host/db`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from mmgui.errors import MmguiError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Alembic's command API keeps module-level state (its `context` proxy): one run at a time.
_MIGRATING = threading.Lock()


def make_engine(url: str) -> Engine:
    """An engine for `url`; `MmguiError` for a URL SQLAlchemy cannot use."""
    try:
        if url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
            event.listen(engine, "connect", _sqlite_pragmas)
        else:
            engine = create_engine(url, pool_pre_ping=True)
    except (ArgumentError, ModuleNotFoundError) as err:
        raise MmguiError(f"cannot use database URL {url!r}: {err}") from err
    return engine


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")  # durable at checkpoints; WAL keeps it safe
    cursor.close()


def migrate(engine: Engine) -> None:
    """Bring the schema to the latest Alembic revision (creates it on an empty database)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    try:
        with _MIGRATING, engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except OperationalError as err:
        raise MmguiError(f"cannot open the database {engine.url!r}: {err.orig}") from err


def open_database(url: str) -> sessionmaker[Session]:
    """A session factory on a migrated database."""
    engine = make_engine(url)
    migrate(engine)
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: committed when the block ends, rolled back if it raises."""
    with sessions.begin() as session:
        yield session


def table_names(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


@contextmanager
def scratch_postgres(server_url: str, prefix: str = "mmgui_scratch") -> Iterator[str]:
    """A new, empty database on the PostgreSQL server of `server_url` (whose user may create
    databases), dropped afterwards; yields its URL. For tests and benchmarks."""
    import uuid

    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()
