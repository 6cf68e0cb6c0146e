"""The Label Studio round trip against a real Label Studio 1.23 on loopback.

`MMGUI_TEST_LABEL_STUDIO` names its `label-studio` executable or the venv holding it (`.ci/run`
installs `label-studio==1.23.2` into its own venv and sets it); without it these tests skip,
unless MMGUI_REQUIRE_LABEL_STUDIO=1 (CI) says fail.
The server is started once per session on a free port with its own data folder, and stopped
at the end.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mmgui.data.catalogue import read_catalogue
from mmgui.data.export import label_config_path, write_export
from mmgui.data.label_studio import LabelStudioExport, LabelStudioImport
from mmgui.store.catalogue import apply_reviews, export_records, upsert_items
from mmgui.store.review import ReviewStore

from .label_studio_fixtures import queue_state, seeded_store

ENV = "MMGUI_TEST_LABEL_STUDIO"
EMAIL, TOKEN = "mmgui-ci@example.com", "mmgui-ci-token-0123456789"
READY_WITHIN_S = 300  # the first start migrates its database (about a minute here)


@dataclass
class LabelStudio:
    url: str
    document_root: Path

    def call(self, method: str, path: str, body: object = None) -> tuple[int, bytes]:
        headers = {"Authorization": f"Token {TOKEN}", "Content-Type": "application/json"}
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data, headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as err:
            return err.code, err.read()

    def json(self, method: str, path: str, body: object = None, status: int = 200) -> object:
        code, content = self.call(method, path, body)
        assert code == status, (method, path, code, content[:500])
        return json.loads(content)


def _executable() -> Path:
    named = Path(os.environ[ENV])
    return named / "bin" / "label-studio" if named.is_dir() else named


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def label_studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabelStudio]:
    if not os.environ.get(ENV):
        message = f"the Label Studio round trip needs {ENV} (see .ci/run)"
        if os.environ.get("MMGUI_REQUIRE_LABEL_STUDIO") == "1":
            pytest.fail(message)
        pytest.skip(message)
    work = tmp_path_factory.mktemp("label-studio")
    root = work / "files"  # its LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT
    root.mkdir()
    port = _free_port()
    env = {
        **os.environ, "HOME": str(work), "LATEST_VERSION_CHECK": "false",
        "LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED": "true",
        "LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT": str(root),
        "LABEL_STUDIO_USERNAME": EMAIL, "LABEL_STUDIO_PASSWORD": "mmgui-ci-password",
        "LABEL_STUDIO_USER_TOKEN": TOKEN, "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",
    }  # fmt: skip
    command = [str(_executable()), "start", "--host", "127.0.0.1", "--port", str(port),
               "--no-browser", "--data-dir", str(work / "data")]  # fmt: skip
    log = open(work / "server.log", "wb")  # noqa: SIM115 (open for the server's lifetime)
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)  # fmt: skip
    studio = LabelStudio(f"http://127.0.0.1:{port}", root)
    try:
        _wait_until_ready(studio, server, work / "server.log")
        yield studio
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()


def _wait_until_ready(studio: LabelStudio, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + READY_WITHIN_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"Label Studio exited ({server.returncode}):\n{log.read_text()[-3000:]}")
        try:
            if studio.call("GET", "/api/current-user/whoami")[0] == 200:
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(1)
    pytest.fail(f"Label Studio not ready in {READY_WITHIN_S} s:\n{log.read_text()[-3000:]}")


def test_our_export_goes_through_label_studio_and_back(
    label_studio: LabelStudio, tmp_path: Path
) -> None:
    root = label_studio.document_root
    store = seeded_store(root)  # its media folder lies under the document root
    admin = label_studio.json("GET", "/api/current-user/whoami")
    users = {"bob": {"email": EMAIL, "id": admin["id"]}}  # ana has no Label Studio account
    project = _import_our_export(label_studio, store, users, tmp_path / "tasks.json")
    by_external = _check_tasks(label_studio, project)
    decided = {"tt0004": ["Comedy", "Family"], "tt0005": ["Western"]}
    _annotate(label_studio, by_external, decided)

    expected = queue_state(store)
    expected.update({k: ("reviewed", tuple(v), "bob") for k, v in decided.items()})
    back = LabelStudioImport(document_root=root, users=users)
    for export_type in ("JSON", "JSON_MIN"):
        exported = _export_from_label_studio(label_studio, project, export_type, tmp_path)
        report = read_catalogue(exported, media_dir=store.media.root, label_studio=back)
        assert not report.bad and not report.notices and len(report.rows) == 12
        fresh = ReviewStore(f"sqlite:///{tmp_path / export_type}.db", tmp_path / export_type)
        upsert_items(fresh, report.rows, source=str(exported))
        assert apply_reviews(fresh, report.rows) == 5
        assert queue_state(fresh) == expected, export_type
        posters = [fresh.item(e.id).poster for e in fresh.queue(status="all", limit=100)]
        assert sum(p is not None for p in posters) == 10


def _import_our_export(
    label_studio: LabelStudio, store: ReviewStore, users: dict, out: Path
) -> int:
    """Our Label Studio export of `store` imported into a new project (its media folder as
    local-files storage); the project's id."""
    root = label_studio.document_root
    options = LabelStudioExport(store.media.root, document_root=root, users=users)
    write_export(export_records(store), "labelstudio", out, options)
    tasks = json.loads(out.read_text())

    project = label_studio.json(
        "POST", "/api/projects",
        {"title": "mmgui round trip", "label_config": label_config_path(out).read_text()}, 201,
    )["id"]  # fmt: skip
    storage = {"project": project, "path": str(store.media.root), "title": "mmgui media"}
    label_studio.json("POST", "/api/storages/localfiles", {**storage, "use_blob_urls": False}, 201)
    imported = label_studio.json("POST", f"/api/projects/{project}/import", tasks, 201)
    n_predictions = sum(len(t.get("predictions", [])) for t in tasks)
    assert (imported["task_count"], imported["annotation_count"]) == (12, 2)
    assert imported["prediction_count"] == n_predictions == 21
    return project


def _check_tasks(label_studio: LabelStudio, project: int) -> dict[str, dict]:
    """The project's tasks as Label Studio shows them (labelled ones, posters served,
    predictions by version); external id → task."""
    listed = label_studio.json("GET", f"/api/tasks?project={project}&page_size=100")["tasks"]
    by_external = {t["data"]["external_id"]: t for t in listed}
    assert {k for k, t in by_external.items() if t["is_labeled"]} == {"tt0000", "tt0001"}
    for task in listed:
        if task["data"]["image"]:
            code, content = label_studio.call("GET", task["data"]["image"])
            assert code == 200 and content[:3] == b"\xff\xd8\xff", task["data"]["image"]
    predictions = label_studio.json("GET", f"/api/predictions?project={project}")
    assert sorted(p["model_version"] for p in predictions) == ["source"] * 9 + ["v1"] * 12
    for p in predictions:
        assert p["result"] == [] or p["result"][0]["from_name"] == "genres"
    return by_external


def _annotate(
    label_studio: LabelStudio, by_external: dict[str, dict], decided: dict[str, list[str]]
) -> None:
    """An annotator in Label Studio picks `decided`'s genres for those tasks."""
    for external_id, choices in decided.items():
        result = [{"from_name": "genres", "to_name": "image", "type": "choices",
                   "value": {"choices": choices}}]  # fmt: skip
        path = f"/api/tasks/{by_external[external_id]['id']}/annotations"
        label_studio.json("POST", path, {"result": result}, 201)


def _export_from_label_studio(
    label_studio: LabelStudio, project: int, export_type: str, folder: Path
) -> Path:
    """The project exported by Label Studio as `export_type`, saved in `folder`."""
    code, content = label_studio.call(
        "GET",
        f"/api/projects/{project}/export?exportType={export_type}&download_all_tasks=true",
    )
    assert code == 200, content[:500]
    exported = folder / f"export-{export_type}.json"
    exported.write_bytes(content)
    return exported
