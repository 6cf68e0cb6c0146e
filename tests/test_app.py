"""The studio through its HTTP API (gradio_client), on a tiny version trained on the fixture."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image

from mmgui.data.image import load_image
from mmgui.errors import MmguiError
from mmgui.genres import GENRES
from mmgui.ui.genre_table import COLUMNS, TAG_MARK
from tests.conftest import KAGGLE_FIXTURE

POSTER = KAGGLE_FIXTURE / "posters" / "tt0112817.jpg"


def _probabilities(table: dict) -> dict[str, float]:
    """Genre → probability from the Predict tab's table ("12.3%" cells)."""
    return {row[0]: float(row[1].rstrip("%")) / 100 for row in table["data"]}


@pytest.fixture(scope="module")
def client(studio_url: str) -> Client:
    return Client(studio_url, verbose=False)


def test_predict_endpoint_returns_all_genres_and_tags(client: Client) -> None:
    header, table, model_line, figures = client.predict(
        poster_path=handle_file(str(POSTER)),
        title_text="Night",
        overview_text="A detective hunts a killer.",
        api_name="/predict",
    )
    rows = {row[0]: row[1:] for row in table["data"]}
    assert set(rows) == set(GENRES) and table["headers"] == COLUMNS
    probabilities = _probabilities(table)
    assert all(0 < p < 1 for p in probabilities.values())
    ranked = [row[0] for row in table["data"]]
    assert ranked == sorted(GENRES, key=probabilities.get, reverse=True)
    # The list itself says which genres are tags and at which threshold.
    tags = header.split("**Tags:** ")[1].split("  \n")[0].split(", ")
    for genre, (probability, threshold, tag) in rows.items():
        assert (tag == TAG_MARK) == (genre in tags)
        assert threshold.endswith("%")
        if tag:
            assert float(probability.rstrip("%")) >= float(threshold.rstrip("%")) - 0.05
    assert "**Tags:**" in header and "model default" in header
    assert "Serving **default**" in model_line and "movies it never saw" in model_line
    assert figures["version"] == "default" and 0 < figures["test"]["macro_roc_auc"] < 1


def test_predict_endpoint_works_with_text_only(client: Client) -> None:
    _, table, *_ = client.predict(
        poster_path=None, title_text="", overview_text="A family comedy.", api_name="/predict"
    )
    assert len(_probabilities(table)) == 18


def test_predict_endpoint_refuses_empty_input_with_a_message(client: Client) -> None:
    with pytest.raises(Exception, match="give a poster, an overview or a title"):
        client.predict(None, "", "", api_name="/predict")


def test_a_corrupt_upload_gives_a_message_not_a_crash(client: Client, tmp_path: Path) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(POSTER.read_bytes()[:200])
    with pytest.raises(Exception, match="truncated or corrupt"):
        client.predict(handle_file(str(broken)), "", "", api_name="/predict")
    _, table, *_ = client.predict(None, "Still alive after a bad upload.", "", api_name="/predict")
    assert len(_probabilities(table)) == 18


def test_an_upload_is_named_by_its_file_name_not_the_server_folder(
    client: Client, tmp_path: Path
) -> None:
    broken = tmp_path / "broken-poster.jpg"
    broken.write_bytes(POSTER.read_bytes()[:200])
    with pytest.raises(Exception, match="truncated or corrupt") as caught:
        client.predict(handle_file(str(broken)), "", "", api_name="/predict")
    assert "broken-poster.jpg: " in str(caught.value)
    assert "/broken-poster.jpg" not in str(caught.value)  # no folder before the name


def test_uploads_above_the_size_limit_are_refused(client: Client, tmp_path: Path) -> None:
    big = tmp_path / "big.jpg"
    big.write_bytes(POSTER.read_bytes() + b"\0" * (2 * 1024 * 1024))  # 2 MB > the 1 MB limit
    with pytest.raises(Exception, match=r"(?i)size|large|limit"):
        client.predict(handle_file(str(big)), "", "", api_name="/predict")


def test_explain_endpoint_returns_cams_and_word_weights(client: Client) -> None:
    gallery, caption, words = client.predict(
        poster_path=handle_file(str(POSTER)),
        title_text="Night",
        overview_text="A detective hunts a killer through the rain.",
        method_name="gradcam++",
        extra_genres=["Western"],
        api_name="/explain",
    )
    captions = [item["caption"] for item in gallery]
    assert any(c.startswith("Western — ") for c in captions)
    assert all("%" in c and ("tag" in c or "below its" in c) for c in captions)
    tokens = [entry["token"].strip() for entry in words]
    assert tokens == ["A", "detective", "hunts", "a", "killer", "through", "the", "rain."]
    scores = [entry["class_or_confidence"] for entry in words]
    assert max(abs(s) for s in scores) == pytest.approx(1.0)
    explained = captions[0].split(" — ")[0]  # the words explain the first map's genre
    assert f"How each word moves {explained}**" in caption and "red raises" in caption


def _bad_files(folder: Path) -> dict[str, Path]:
    from tests.test_image import png_header_only

    files = {
        "zero-byte.jpg": b"",
        "notes.jpg": b"these are my notes, not a poster",
        "truncated.jpg": POSTER.read_bytes()[: len(POSTER.read_bytes()) // 2],
        "huge.png": png_header_only(20_000, 20_000),
    }
    for name, content in files.items():
        (folder / name).write_bytes(content)
    return {name: folder / name for name in files}


def _odd_but_valid_files(folder: Path) -> list[Path]:
    poster = Image.open(POSTER).convert("RGB")
    cmyk, sixteen, animated = folder / "cmyk.jpg", folder / "grey16.png", folder / "anim.gif"
    poster.convert("CMYK").save(cmyk)
    Image.fromarray(np.asarray(poster.convert("L"), dtype=np.uint16) * 257).save(sixteen)
    poster.save(animated, save_all=True, append_images=[poster.rotate(90)], duration=100)
    return [cmyk, sixteen, animated]


def test_bad_uploads_get_the_loaders_message_and_the_server_lives(
    client: Client, tmp_path: Path
) -> None:
    for path in _bad_files(tmp_path).values():
        with pytest.raises(MmguiError) as direct:
            load_image(path)
        reason = str(direct.value).split(": ", 1)[1]
        with pytest.raises(Exception, match=re.escape(reason[:40])):
            client.predict(
                poster_path=handle_file(str(path)),
                title_text="",
                overview_text="",
                api_name="/predict",
            )
    _, table, *_ = client.predict(
        poster_path=None, title_text="Still", overview_text="alive", api_name="/predict"
    )
    assert len(_probabilities(table)) == 18


def test_odd_but_valid_images_predict(client: Client, tmp_path: Path) -> None:
    for path in _odd_but_valid_files(tmp_path):
        _, table, *_ = client.predict(
            poster_path=handle_file(str(path)), title_text="", overview_text="", api_name="/predict"
        )
        assert len(_probabilities(table)) == 18, path.name


def test_long_and_non_english_overviews_predict_with_notices(tmp_path: Path) -> None:
    from mmgui.config import Settings
    from mmgui.serve.studio import Studio
    from mmgui.training.train import train_version
    from tests.conftest import TINY_CONFIG

    settings = Settings.load(models_dir=tmp_path / "models", cache_dir=tmp_path / "cache")
    train_version(
        KAGGLE_FIXTURE, str(TINY_CONFIG), settings.default_model_dir, settings, log=lambda _: None
    )
    studio = Studio(settings)
    long = studio.predict(None, "the hero fights on " * 2_700, None)  # 51,300 characters
    assert len(long.genre_probs) == 18
    assert any("only the first" in n for n in long.notices)
    foreign = studio.predict(None, "Un policier enquête sur la disparition de sa fille.", None)
    assert len(foreign.genre_probs) == 18
    assert any("trained on English" in n for n in foreign.notices)
