"""The studio through its HTTP API (gradio_client), on a tiny version trained on the fixture."""

from __future__ import annotations

from pathlib import Path

import pytest
from gradio_client import Client, handle_file

from mmgui.genres import GENRES
from tests.conftest import KAGGLE_FIXTURE

POSTER = KAGGLE_FIXTURE / "posters" / "tt0112817.jpg"


@pytest.fixture(scope="module")
def client(studio_url: str) -> Client:
    return Client(studio_url, verbose=False)


def test_predict_endpoint_returns_all_genres_and_tags(client: Client) -> None:
    header, label = client.predict(
        poster_path=handle_file(str(POSTER)),
        title_text="Night",
        overview_text="A detective hunts a killer.",
        api_name="/predict",
    )
    confidences = {c["label"]: c["confidence"] for c in label["confidences"]}
    assert set(confidences) == set(GENRES)
    assert all(0 < p < 1 for p in confidences.values())
    assert "**Tags:**" in header and "model default" in header


def test_predict_endpoint_works_with_text_only(client: Client) -> None:
    _, label = client.predict(
        poster_path=None, title_text="", overview_text="A family comedy.", api_name="/predict"
    )
    assert len(label["confidences"]) == 18


def test_predict_endpoint_refuses_empty_input_with_a_message(client: Client) -> None:
    with pytest.raises(Exception, match="give a poster, an overview or a title"):
        client.predict(None, "", "", api_name="/predict")


def test_a_corrupt_upload_gives_a_message_not_a_crash(client: Client, tmp_path: Path) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(POSTER.read_bytes()[:200])
    with pytest.raises(Exception, match="truncated or corrupt"):
        client.predict(handle_file(str(broken)), "", "", api_name="/predict")
    _, label = client.predict(None, "Still alive after a bad upload.", "", api_name="/predict")
    assert len(label["confidences"]) == 18


def test_uploads_above_the_size_limit_are_refused(client: Client, tmp_path: Path) -> None:
    big = tmp_path / "big.jpg"
    big.write_bytes(POSTER.read_bytes() + b"\0" * (2 * 1024 * 1024))  # 2 MB > the 1 MB limit
    with pytest.raises(Exception, match=r"(?i)size|large|limit"):
        client.predict(handle_file(str(big)), "", "", api_name="/predict")


def test_explain_endpoint_returns_cams_and_word_weights(client: Client) -> None:
    gallery, words = client.predict(
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
