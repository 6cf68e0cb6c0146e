"""Clip speed: seconds of video processed per wall second, emotion line + genres, per clip.

    python benchmarks/clip_speed.py [--clips ../shared/data/clips] [--model models/default]
                                    [--repeats 3]

Prints one JSON object: for each clip its duration, the median wall time over `repeats`
runs split into decode / features (+ emotion line) / genres, and the real-time factor
(video seconds per wall second); overall, total video seconds over total wall seconds; and
the machine. The model is loaded (and its backbone graphs built) before timing starts.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

# Run as a script, this folder is sys.path[0]; it holds queue.py, which would shadow the
# standard library's `queue` (torch needs it): the repository root takes its place.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

from benchmarks.machine import machine
from mmgui.config import PROJECT_ROOT, Settings
from mmgui.serve.clip import ClipAnalyser
from mmgui.serve.predictor import GenrePredictor

VIDEO_SUFFIXES = {".mp4", ".webm", ".mkv", ".mov", ".avi"}


def time_clip(analyser: ClipAnalyser, path: Path, repeats: int) -> dict:
    runs = [analyser.analyse(path) for _ in range(repeats)]
    wall = statistics.median(r.seconds for r in runs)
    duration = runs[0].duration
    return {
        "clip": path.name,
        "duration_s": round(duration, 2),
        "segments": len(runs[0].segments),
        "has_audio": not any("no audio" in n for n in runs[0].notices),
        "wall_s": round(wall, 3),
        "split_s": {
            part: round(statistics.median(r.timings[part] for r in runs), 3)
            for part in runs[0].timings
        },
        "realtime_factor": round(duration / wall, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clips", default=str(PROJECT_ROOT.parent / "shared" / "data" / "clips"))
    parser.add_argument("--model", default=str(Settings.load().default_model_dir))
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    settings = Settings.load(max_upload_mb=1024)
    paths = sorted(p for p in Path(args.clips).iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)
    analyser = ClipAnalyser(GenrePredictor(Path(args.model), settings), settings.affect_model)
    analyser.analyse(paths[0])  # warm-up: graph sessions, first-call allocations
    clips = [time_clip(analyser, path, args.repeats) for path in paths]
    video = sum(c["duration_s"] for c in clips)
    wall = sum(c["wall_s"] for c in clips)
    split = {part: round(sum(c["split_s"][part] for c in clips), 3) for part in clips[0]["split_s"]}
    print(
        json.dumps(
            {
                "benchmark": "clip_speed",
                "model_version": analyser.predictor.name,
                "affect_model": analyser.affect.name,
                "settings": {
                    "segment_s": settings.clip_segment_s,
                    "frames_per_segment": settings.clip_frames_per_segment,
                    "max_side": settings.clip_max_side,
                    "keyframe_side": settings.clip_keyframe_side,
                    "max_keyframes": settings.clip_max_keyframes,
                },
                "video_s": round(video, 2),
                "wall_s": round(wall, 3),
                "split_s": split,
                "realtime_factor": round(video / wall, 1),
                "slowest_clip_realtime_factor": min(c["realtime_factor"] for c in clips),
                "clips": clips,
                "machine": machine(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
