"""Clip analysis end to end: genres with keyframe attention, the CLI's JSON, the Clip tab."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from gradio_client import Client, handle_file

from mmgui.config import Settings
from mmgui.errors import MmguiError
from mmgui.genres import GENRES
from mmgui.serve.clip import ClipAnalyser, attention_weights, keyframe_segments, poster_crop
from mmgui.serve.predictor import GenrePredictor
from mmgui.store.catalogue import export_records
from tests.clip_fixtures import calm_then_intense


@pytest.fixture(scope="module")
def clip_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return calm_then_intense(tmp_path_factory.mktemp("clips") / "calm_then_intense.mp4")


@pytest.fixture(scope="module")
def analyser(tiny_settings: Settings) -> ClipAnalyser:
    return ClipAnalyser(GenrePredictor(tiny_settings.default_model_dir, tiny_settings))


def test_a_clip_gets_an_emotion_line_and_all_genres(analyser: ClipAnalyser, clip_path) -> None:
    analysis = analyser.analyse(clip_path)
    assert set(analysis.genre_probs) == set(GENRES)
    assert all(0 < p < 1 for p in analysis.genre_probs.values())
    assert len(analysis.segments) == len(analysis.keyframes) == 6
    assert sum(analysis.attention.values()) == pytest.approx(1.0, abs=1e-5)
    assert set(analysis.timings) == {"decode", "features", "genres"}
    assert analysis.seconds >= sum(analysis.timings.values()) - 1e-6


def test_the_overview_guides_the_keyframe_attention(analyser: ClipAnalyser, clip_path) -> None:
    alone = analyser.analyse(clip_path)
    guided = analyser.analyse(clip_path, overview="A detective hunts a killer.", title="Night")
    assert alone.attention != guided.attention
    assert alone.genre_probs != guided.genre_probs


def test_attention_favours_frames_that_agree_with_the_guide() -> None:
    per_frame = np.array([[0.9, 0.1], [0.1, 0.9], [0.8, 0.2]], dtype=np.float32)
    weights = attention_weights(per_frame, np.array([1.0, 0.0]), temperature=0.1)
    assert weights.sum() == pytest.approx(1.0)
    assert weights[0] > weights[2] > weights[1]


def test_keyframes_are_spread_and_cropped_to_the_poster_aspect() -> None:
    assert keyframe_segments(5, 16) == [0, 1, 2, 3, 4]
    chosen = keyframe_segments(100, 16)
    assert len(chosen) == 16 and chosen[0] == 0 and chosen[-1] == 99
    crop = poster_crop(np.zeros((180, 320, 3), dtype=np.uint8), (224, 320))
    assert crop.size == (126, 180)


def test_a_corrupt_clip_is_refused(analyser: ClipAnalyser, tmp_path: Path, clip_path) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(clip_path.read_bytes()[:5000])
    with pytest.raises(MmguiError, match="truncated"):
        analyser.analyse(broken)


def test_the_clip_command_prints_one_json_object(
    tiny_settings: Settings, clip_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from mmgui.__main__ import main

    model = str(tiny_settings.default_model_dir)
    assert main(["clip", str(clip_path), "--model", model, "--overview", "A heist.", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["duration"] == pytest.approx(12.0, abs=0.2)
    assert [s["t_start"] for s in result["segments"]] == [0, 2, 4, 6, 8, 10]
    assert all(-1 <= s["valence"] <= 1 and -1 <= s["arousal"] <= 1 for s in result["segments"])
    assert set(result["genres"]) == set(GENRES)
    assert result["seconds"] > 0


def test_the_clip_command_serves_a_trained_affect_model(
    tiny_settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from mmgui.__main__ import main
    from tests.test_affect import train_affect_version

    affect = train_affect_version(tmp_path)
    capsys.readouterr()
    model = str(tiny_settings.default_model_dir)
    args = ["clip", str(tmp_path / "a.mp4"), "--model", model, "--affect-model", str(affect)]
    assert main([*args, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["affect_model"] == "affect-v1"
    assert len(result["segments"]) == 6


def test_the_clip_command_exits_2_with_a_message_on_a_bad_file(
    tiny_settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from mmgui.__main__ import main

    notes = tmp_path / "notes.mp4"
    notes.write_text("not a film")
    model = str(tiny_settings.default_model_dir)
    assert main(["clip", str(notes), "--model", model, "--json"]) == 2
    assert "not a video" in capsys.readouterr().err


@pytest.fixture(scope="module")
def client(studio_url: str) -> Client:
    return Client(studio_url, verbose=False)


def test_the_clip_tab_draws_the_line_the_path_the_genres_and_the_cams(
    client: Client, clip_path: Path
) -> None:
    header, line, path, table, gallery, _ = client.predict(
        handle_file(str(clip_path)),
        "Night",
        "A detective hunts a killer.",
        api_name="/analyse_clip",
    )
    assert "**Tags:**" in header and "real time" in header
    figure = json.loads(line["plot"])
    assert [trace["name"] for trace in figure["data"]] == ["valence", "arousal"]
    assert len(figure["layout"]["images"]) == 6  # a keyframe thumbnail per segment (≤ 8)
    assert len(json.loads(path["plot"])["data"][0]["x"]) == 6
    assert [row[0] for row in table["data"]] != [] and len(table["data"]) == 18
    tags = header.split("**Tags:** ")[1].split("  \n")[0].split(", ")
    assert [row[0] for row in table["data"] if row[3]] == [t for t in tags if t in GENRES]
    assert 1 <= len(gallery) <= 4
    assert all(" s, attention " in item["caption"] for item in gallery)


def test_the_clip_tab_refuses_a_corrupt_upload_and_lives_on(
    client: Client, tmp_path: Path, clip_path: Path
) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(clip_path.read_bytes()[:5000])
    with pytest.raises(Exception, match="truncated") as caught:
        client.predict(handle_file(str(broken)), "", "", api_name="/analyse_clip")
    assert "broken.mp4: " in str(caught.value)
    assert "/broken.mp4" not in str(caught.value)  # the upload's server folder stays private
    _, _, _, table, _, _ = client.predict(
        handle_file(str(clip_path)), "", "", api_name="/analyse_clip"
    )
    assert len(table["data"]) == 18


def test_analyse_without_a_clip_says_so_once(client: Client) -> None:
    with pytest.raises(Exception, match="Upload a clip first"):
        client.predict(None, "", "", api_name="/analyse_clip")


def test_an_analysed_clip_goes_to_the_review_queue(
    client: Client, clip_path: Path, studio_settings
) -> None:
    from mmgui.serve.review import ReviewService
    from mmgui.serve.studio import Studio

    _, _, _, table, _, _ = client.predict(
        handle_file(str(clip_path)), "Night walk", "A quiet night.", api_name="/analyse_clip"
    )
    message = client.predict(api_name="/send_clip_to_queue")
    assert message.startswith("In the review queue as `clip-") and "Night walk" in message
    review = ReviewService.open(Studio(studio_settings))
    (entry,) = [
        e for e in review.store.queue(status="all", view="newest") if e.title == "Night walk"
    ]
    item = review.item(entry.id)
    assert item.poster is not None and item.poster.is_file()  # the keyframe, for the reviewer
    shown = {row[0]: float(row[1].rstrip("%")) / 100 for row in table["data"]}
    assert item.genre_probs == pytest.approx(shown, abs=6e-4)  # shown to 0.1 %
    (record,) = [r for r in export_records(review.store) if r.external_id == item.external_id]
    assert record.title == "Night walk"
