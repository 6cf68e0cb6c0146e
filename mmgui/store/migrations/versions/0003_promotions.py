"""the promotion history, for rollbacks that walk back

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    promotions = op.create_table(
        "promotions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=200), nullable=False),
        sa.Column("username", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("undone_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("undone_by", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    # The history starts at the version active now: earlier audit entries cannot tell a
    # promotion from the old one-step rollback, so nothing before it is rolled back to.
    versions = sa.table(
        "model_versions",
        sa.column("name", sa.String),
        sa.column("promoted_by", sa.String),
        sa.column("promoted_at", sa.DateTime),
        sa.column("created_at", sa.DateTime),
        sa.column("is_active", sa.Boolean),
    )
    active = sa.select(
        versions.c.name,
        sa.func.coalesce(versions.c.promoted_by, "(initial)"),
        sa.func.coalesce(versions.c.promoted_at, versions.c.created_at),
    ).where(versions.c.is_active.is_(True))
    op.execute(promotions.insert().from_select(["version", "username", "created_at"], active))


def downgrade() -> None:
    op.drop_table("promotions")
