"""Alembic environment: run by `mmgui.store.db.migrate` with a live connection."""

from __future__ import annotations

from alembic import context

from mmgui.store.schema import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters by table copy
)
with context.begin_transaction():
    context.run_migrations()
