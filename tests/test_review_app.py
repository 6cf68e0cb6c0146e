"""The Review tab through its API (gradio_client), two editors on one item included."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from mmgui.serve.review import ReviewService
from mmgui.serve.studio import Studio

LOAD = ("uncertain", "pending", "(any genre)")
POSITION, POSTER, CLIP, DETAILS, LABELS, COMMENT, CAMS, MESSAGE = range(8)
HISTORY, RECENT = range(2)  # of /review_trail, which follows each of them


def test_review_save_and_undo_through_the_api(studio_url: str, studio_settings) -> None:
    client = Client(studio_url, verbose=False)
    shown = client.predict(*LOAD, api_name="/review_load")
    pending = review_count(studio_settings)
    assert shown[POSITION].startswith(f"**{pending}** in this view (uncertain · pending)")
    assert "#1 in this order" in shown[POSITION] and "you: **0 done**" in shown[POSITION]
    # The item is shown at once; its Grad-CAM maps follow in an event of their own.
    assert shown[POSTER] and shown[CAMS] == [] and "Model default" in shown[DETAILS]
    title = shown[DETAILS].splitlines()[0].removeprefix("### ")
    choices = dict((value, label) for label, value in shown[LABELS]["choices"])
    assert len(choices) == 18 and choices["Action"].startswith("[a] Action · ")
    after = client.predict(["Western", "War"], "poster says western", api_name="/review_save")
    assert after[MESSAGE] == f"Corrected “{title}”: War, Western."
    assert after[POSITION].startswith(f"**{pending - 1}** in this view")
    assert "you: **1 done**" in after[POSITION]
    _, mine = client.predict(api_name="/review_trail")
    assert mine["data"][0][1:] == [title, "correct", "War, Western"]
    assert not after[DETAILS].startswith(f"### {title}\n")  # moved on to the next item
    review = ReviewService.open(Studio(studio_settings))
    saved = next(
        review.item(e.id) for e in review.store.queue(status="reviewed") if e.title == title
    )
    assert saved.labels == ["War", "Western"] and saved.history[0].username == "local"
    assert saved.history[0].comment == "poster says western" and after[COMMENT] == ""
    undone = client.predict(api_name="/review_undo")
    assert undone[MESSAGE].startswith(f"Undone: “{title}” is back to")
    trail = client.predict(api_name="/review_trail")
    assert trail[HISTORY]["data"][0][2] == "undo"
    assert "#1 in this order" in undone[POSITION] and "you: **0 done**" in undone[POSITION]
    assert [row[2] for row in trail[RECENT]["data"][:2]] == ["undo", "correct"]


def review_count(settings) -> int:
    return ReviewService.open(Studio(settings)).store.count("pending")


def test_two_editors_saving_one_item_get_a_conflict_not_a_loss(studio_url: str) -> None:
    ana, bob = Client(studio_url, verbose=False), Client(studio_url, verbose=False)
    seen_by_ana = ana.predict("newest", "pending", "(any genre)", api_name="/review_load")
    seen_by_bob = bob.predict("newest", "pending", "(any genre)", api_name="/review_load")
    assert seen_by_ana[DETAILS] == seen_by_bob[DETAILS]
    ana.predict(["Comedy"], api_name="/review_save")
    conflict = bob.predict(["Horror"], "bob's note", api_name="/review_save")
    assert "changed while you were looking at it" in conflict[MESSAGE]
    assert conflict[COMMENT] == "bob's note"  # nothing saved, nothing typed lost
    assert "local corrected it" in conflict[MESSAGE] or "local accepted it" in conflict[MESSAGE]
    assert conflict[DETAILS] == seen_by_bob[DETAILS] or "Comedy" in conflict[DETAILS]
    bob.predict(api_name="/review_undo")  # bob has nothing of his own to undo...
    ana.predict(api_name="/review_undo")  # ...ana puts the item back as it was


def test_export_and_bulk_preview_through_the_api(studio_url: str, studio_settings) -> None:
    client = Client(studio_url, verbose=False)
    path = client.predict("labelstudio", "all", "pending", "(any genre)", api_name="/review_export")
    tasks = json.loads(Path(path).read_text())
    items = ReviewService.open(Studio(studio_settings)).store.count("all")
    assert len(tasks) == items >= 16 and all("predictions" in t for t in tasks)
    preview = client.predict(
        "Western", "add", "pending", "(any genre)", api_name="/review_bulk_preview"
    )
    assert preview.startswith("This will add **Western** on **")  # the Apply button is not data


def test_imports_through_the_api_stay_inside_their_folders(studio_url: str, tmp_path: Path) -> None:
    """A server path outside the import roots is refused; an uploaded CSV reads posters only
    from its own upload folder, and its messages name it by file name."""
    client = Client(studio_url, verbose=False)
    for path in ("/etc/passwd", str(tmp_path), "../../../etc"):
        with pytest.raises(AppError, match="inside the import folders"):
            client.predict(None, path, api_name="/review_import")
    secret = tmp_path / "secret.jpg"
    secret.write_bytes(
        next(Path(__file__).parent.glob("fixtures/kaggle/posters/*.jpg")).read_bytes()
    )
    upload = tmp_path / "upload.csv"
    upload.write_text(f"id,title,poster\nleak1,Leak,{secret}\nleak2,Leak,../../../../{secret}\n")
    message = client.predict(handle_file(str(upload)), "", api_name="/review_import")
    assert "**0 new, 0 changed" in message and "2 bad rows" in message
    assert "- upload.csv:2: poster file not found in the catalogue's folder" in message
    assert "gradio" not in message.replace(str(secret), "")  # no upload folder path


def test_exports_leave_a_bounded_number_of_files_behind(
    studio_settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every place an export can land (Gradio's cache, the system temp folder) is counted:
    after ten exports at most `export_keep` files remain, and the newest is downloadable."""
    import dataclasses
    import tempfile

    from mmgui.ui.app import build_app, launch_options

    gradio_cache, system_temp = tmp_path / "gradio", tmp_path / "tmp"
    system_temp.mkdir()
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(gradio_cache))
    monkeypatch.setattr(tempfile, "tempdir", str(system_temp))
    settings = dataclasses.replace(studio_settings, export_keep=3)
    app = build_app(Studio(settings))
    app.launch(
        **{**launch_options(settings), "server_port": None}, prevent_thread_lock=True, quiet=True
    )
    try:
        client = Client(app.local_url, verbose=False, download_files=False)
        for _ in range(10):
            newest = client.predict(
                "csv", "all", "pending", "(any genre)", api_name="/review_export"
            )
    finally:
        app.close()
    left = [p for root in (gradio_cache, system_temp) for p in root.rglob("mmgui-csv.csv")]
    assert 1 <= len(left) <= 3, left
    assert Path(newest["path"]) in left
    assert Path(newest["path"]).read_text().startswith("external_id,title,")
