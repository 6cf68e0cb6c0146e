"""Clip decoding: segments, keyframes, audio, rotation, and clear refusals of bad files."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mmgui.config import Settings
from mmgui.data.video import NO_AUDIO, load_clip
from mmgui.errors import MmguiError
from tests.clip_fixtures import calm_then_intense, rotated_clip, video_without_frames


@pytest.fixture(scope="module")
def clip_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return calm_then_intense(tmp_path_factory.mktemp("clips") / "calm_then_intense.mp4")


def test_a_clip_is_cut_into_segments_with_sampled_frames_and_audio(clip_path: Path) -> None:
    settings = Settings.load()
    clip = load_clip(clip_path, settings)
    assert clip.duration == pytest.approx(12.0, abs=0.2)
    assert len(clip.segments) == 6
    assert [s.t_start for s in clip.segments] == [0, 2, 4, 6, 8, 10]
    for segment in clip.segments:
        assert 1 <= len(segment.frames) <= settings.clip_frames_per_segment
        assert all(segment.t_start <= t < segment.t_end for t in segment.frame_times)
        assert max(segment.frames[0].shape[:2]) == settings.clip_max_side
        assert max(segment.keyframe.shape[:2]) <= settings.clip_keyframe_side
    assert clip.has_audio and clip.audio_rate == settings.clip_audio_rate
    assert clip.audio.size / clip.audio_rate == pytest.approx(12.0, abs=0.2)
    assert clip.notices == ()


def test_a_clip_without_audio_decodes_with_a_notice(tmp_path: Path) -> None:
    clip = load_clip(calm_then_intense(tmp_path / "silent.mp4", audio=False))
    assert not clip.has_audio
    assert clip.notices == (NO_AUDIO,)
    assert len(clip.segments) == 6


def test_a_clip_shorter_than_a_segment_is_one_segment(tmp_path: Path) -> None:
    clip = load_clip(rotated_clip(tmp_path / "short.mp4", 0), Settings.load(clip_segment_s=5.0))
    assert len(clip.segments) == 1
    assert clip.segments[0].t_end == pytest.approx(2.0, abs=0.1)


@pytest.mark.parametrize(("degrees", "band"), [(0, "left"), (-90, "top"), (90, "bottom")])
def test_the_display_matrix_rotation_is_honoured(tmp_path: Path, degrees: int, band: str) -> None:
    keyframe = load_clip(rotated_clip(tmp_path / "r.mp4", degrees)).segments[0].keyframe
    height, width = keyframe.shape[:2]
    assert (height > width) == (degrees != 0)
    edges = {
        "left": keyframe[:, :5],
        "top": keyframe[:5],
        "bottom": keyframe[-5:],
    }
    assert edges[band].mean() > 200, band


def _bad_files(folder: Path, clip_path: Path) -> dict[str, tuple[Path, str]]:
    data = clip_path.read_bytes()
    files = {
        "empty.mp4": (b"", "the file is empty"),
        "notes.mp4": (b"these are my notes, not a film", "not a video in a format we can read"),
        "truncated.mp4": (data[: len(data) // 2], "truncated"),
    }
    out = {}
    for name, (content, message) in files.items():
        (folder / name).write_bytes(content)
        out[name] = (folder / name, message)
    Image.new("RGB", (64, 64), "red").save(folder / "poster.png")
    out["poster.png"] = (folder / "poster.png", "this is an image, not a video")
    out["no-frames.mkv"] = (video_without_frames(folder / "none.mkv"), "no frames")
    out["folder"] = (folder, "is a folder")
    out["missing.mp4"] = (folder / "missing.mp4", "no such file")
    return out


def test_bad_files_are_refused_with_a_clear_message(tmp_path: Path, clip_path: Path) -> None:
    """Each message names the file by its name alone: an upload's server folder stays private."""
    for path, message in _bad_files(tmp_path, clip_path).values():
        with pytest.raises(MmguiError, match=message) as caught:
            load_clip(path)
        assert str(caught.value).startswith(f"{path.name}: ")
        assert str(tmp_path) not in str(caught.value)


def test_limits_come_from_the_settings(clip_path: Path) -> None:
    with pytest.raises(MmguiError, match="above the 5 s limit"):
        load_clip(clip_path, Settings.load(clip_max_duration_s=5))
    with pytest.raises(MmguiError, match="upload limit"):
        load_clip(clip_path, Settings.load(max_upload_mb=0.01))
    with pytest.raises(MmguiError, match="MP limit"):
        load_clip(clip_path, Settings.load(clip_max_pixels=100 * 100))


def test_a_clip_cut_short_is_analysed_up_to_the_cut_with_a_notice(tmp_path: Path) -> None:
    full = calm_then_intense(tmp_path / "full.mkv").read_bytes()  # Matroska streams in order
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(full[: int(len(full) * 0.6)])
    clip = load_clip(cut)
    assert clip.duration < 11
    assert any("the video stops at" in notice for notice in clip.notices)


def test_an_audio_file_is_refused_as_such(tmp_path: Path) -> None:
    import av

    from tests.clip_fixtures import AUDIO_RATE, write_audio

    song = tmp_path / "song.mka"
    with av.open(str(song), "w") as container:
        sound = container.add_stream("aac", rate=AUDIO_RATE, layout="mono")
        write_audio(container, sound, np.zeros(AUDIO_RATE))
    with pytest.raises(MmguiError, match="this is an audio file with no video track"):
        load_clip(song)


def _short_video_long_audio(path: Path, video_s: int, audio_s: int) -> Path:
    from tests.clip_fixtures import AUDIO_RATE, FPS, SIZE, write_clip

    width, height = SIZE
    frames = [
        np.full((height, width, 3), 10 * i % 255, dtype=np.uint8) for i in range(video_s * FPS)
    ]
    return write_clip(path, frames, np.zeros(audio_s * AUDIO_RATE, dtype=np.float32))


def test_the_duration_limit_applies_to_the_audio_track_too(tmp_path: Path) -> None:
    clip_path = _short_video_long_audio(tmp_path / "long-audio.mp4", video_s=2, audio_s=8)
    with pytest.raises(MmguiError, match="audio track is 8 s long, above the 5 s limit"):
        load_clip(clip_path, Settings.load(clip_max_duration_s=5))


@pytest.mark.parametrize("suffix", ["mp4", "mkv"])
def test_audio_is_decoded_up_to_the_video_end_only(tmp_path: Path, suffix: str) -> None:
    clip_path = _short_video_long_audio(tmp_path / f"long-audio.{suffix}", video_s=2, audio_s=8)
    clip = load_clip(clip_path)
    rate = clip.audio_rate
    assert clip.duration < 2.5
    assert (clip.duration - 0.1) * rate <= clip.audio.size <= math.ceil(clip.duration * rate)
