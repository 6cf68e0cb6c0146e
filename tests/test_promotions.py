"""Who may promote, roll back and cancel, on SQLite and PostgreSQL: one promotion rule for the
studio and the CLI, rollbacks that walk back the promotion history and always ask first, and
cancels kept to the job's owner or an admin, each audited."""

from __future__ import annotations

from pathlib import Path

import pytest

from mmgui.__main__ import main
from mmgui.config import Settings
from mmgui.errors import MmguiError
from mmgui.serve.actions import NeedsConfirmation
from mmgui.serve.auth import User
from mmgui.serve.models import ModelManager
from mmgui.serve.studio import Studio
from mmgui.store.review import ReviewStore

FLAG = "micro-F1 0.60 < 0.65"


@pytest.fixture
def users(tmp_path: Path) -> Path:
    """An auth file with an editor (ana, bo) and an admin (root); roles are all that is read."""
    import json

    path = tmp_path / "users.json"
    entries = [User(n, r, "pbkdf2_sha256$1$00$00") for n, r in
               (("ana", "editor"), ("bo", "editor"), ("root", "admin"))]  # fmt: skip
    path.write_text(json.dumps({"users": [vars(u) for u in entries]}))
    return path


def manager_on(db_url: str, tiny_models: Path, tmp_path: Path, auth: Path | None = None):
    """A manager on `db_url` whose versions v1 (flagged) and v2 share the default's folder, so
    promoting one swaps no model in."""
    settings = Settings.load(
        models_dir=tiny_models,
        cache_dir=tiny_models.parent / "cache",
        db_url=db_url,
        media_dir=tmp_path / "media",
        auth_file=str(auth or ""),
    )
    manager = ModelManager(Studio(settings), ReviewStore(db_url, settings.media_dir))
    manager.versions.register("v1", "default", {}, parent="default", flagged=FLAG)
    manager.versions.register("v2", "default", {}, parent="v1")
    return manager


def roll_back(manager: ModelManager, username: str = "local") -> str:
    _, target = manager.rollback_question(username)
    with pytest.raises(NeedsConfirmation, match=f"to {target}"):
        manager.rollback(username)  # never without the confirmation
    return manager.rollback(username, confirmed_version=target).name


def test_rollbacks_walk_back_the_history_and_never_return_a_flagged_version_unasked(
    db_url: str, tiny_models: Path, tmp_path: Path
) -> None:
    manager = manager_on(db_url, tiny_models, tmp_path)
    manager.promote("v1", "local", confirmed=True)
    assert roll_back(manager) == "default"
    with pytest.raises(MmguiError, match="nothing to roll back to"):
        manager.rollback_question("local")  # the old one-step rollback served v1 again here
    assert manager.versions.active().name == "default"

    manager.promote("v1", "local", confirmed=True)
    manager.promote("v2", "local")
    question, target = manager.rollback_question("local")
    assert target == "v1" and FLAG in question
    with pytest.raises(NeedsConfirmation):
        manager.rollback("local", confirmed_version="default")  # confirmed something else
    assert roll_back(manager) == "v1"
    assert roll_back(manager) == "default"
    assert manager.versions.history() == ["default"]
    actions = [(e.action, e.detail["version"]) for e in manager.store.audit_log()]
    assert actions[:2] == [("rollback", "default"), ("rollback", "v1")]


def test_a_stale_rollback_confirmation_is_refused(
    db_url: str, tiny_models: Path, tmp_path: Path
) -> None:
    manager = manager_on(db_url, tiny_models, tmp_path)
    manager.promote("v2", "local")
    _, target = manager.rollback_question("local")
    manager.promote("v1", "local", confirmed=True)  # someone promoted meanwhile
    with pytest.raises(MmguiError, match="to v2"):
        manager.rollback("local", confirmed_version=target)
    assert manager.versions.active().name == "v1"


def test_only_admins_promote_and_roll_back(
    db_url: str, tiny_models: Path, tmp_path: Path, users: Path
) -> None:
    manager = manager_on(db_url, tiny_models, tmp_path, users)
    with pytest.raises(MmguiError, match="only admins promote"):
        manager.promote("v2", "ana")
    manager.promote("v2", "root")
    with pytest.raises(MmguiError, match="only admins roll back"):
        manager.rollback_question("ana")
    assert roll_back(manager, "root") == "default"


def test_editors_cancel_their_own_jobs_admins_any_and_every_cancel_is_audited(
    db_url: str, tiny_models: Path, tmp_path: Path, users: Path
) -> None:
    manager = manager_on(db_url, tiny_models, tmp_path, users)
    anas, bos = manager.jobs.enqueue("ana"), manager.jobs.enqueue("bo")
    with pytest.raises(MmguiError, match="queued by ana: only they or an admin"):
        manager.cancel(anas, "bo")
    assert manager.jobs.get(anas).status == "queued"
    assert manager.cancel(anas, "ana") == "cancelled"
    assert manager.cancel(bos, "root") == "cancelled"
    cancels = [
        (e.username, e.detail) for e in manager.store.audit_log() if e.action == "cancel_job"
    ]
    assert cancels == [
        ("root", {"job_id": bos, "requested_by": "bo", "status": "cancelled"}),
        ("ana", {"job_id": anas, "requested_by": "ana", "status": "cancelled"}),
    ]


def test_the_cli_promotes_by_the_same_rule(
    tmp_path: Path, tiny_models: Path, users: Path, capsys: pytest.CaptureFixture
) -> None:
    db_url = f"sqlite:///{tmp_path / 'queue.db'}"
    manager = manager_on(db_url, tiny_models, tmp_path)
    cli = ["promote", "--db", db_url, "--models", str(tiny_models), "--auth", str(users)]
    assert main([*cli, "v2", "--user", "ana"]) == 2
    assert "only admins promote" in capsys.readouterr().err
    assert main([*cli, "v1", "--user", "root"]) == 2
    assert "--yes" in capsys.readouterr().err
    assert manager.versions.active().name == "default"
    assert main([*cli, "v1", "--user", "root", "--yes"]) == 0
    assert manager.versions.active().name == "v1"
    assert manager.store.audit_log()[0].detail == {
        "version": "v1", "previous": "default", "flagged": FLAG
    }  # fmt: skip


def test_the_migration_starts_the_history_at_the_active_version(db_url: str) -> None:
    """A database from before the promotion history keeps its active version as the start."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine, text
    from sqlalchemy.orm import sessionmaker

    from mmgui.store.db import MIGRATIONS, migrate
    from mmgui.store.versions import VersionTable

    engine = create_engine(db_url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0002")
        connection.execute(
            text(
                "INSERT INTO model_versions (name, path, created_at, metrics, is_active, "
                "promoted_by) VALUES ('v7', 'v7', CURRENT_TIMESTAMP, '{}', :yes, 'root'), "
                "('default', 'default', CURRENT_TIMESTAMP, '{}', :no, NULL)"
            ),
            {"yes": True, "no": False},
        )
    migrate(engine)
    assert VersionTable(sessionmaker(engine)).history() == ["v7"]
    engine.dispose()
