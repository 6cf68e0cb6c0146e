"""Training the learnable affect model (`nets.affect`) from valence/arousal annotations.

`python -m mmgui train-affect --annotations CSV --out DIR` reads a CSV with the columns
clip, t_start, t_end, valence, arousal (clip paths relative to the CSV's folder; values in
[-1, 1]), decodes each clip into segments exactly as serving does, gives every segment the
overlap-weighted mean of the annotations that cover it, and trains with a masked MSE. The
result is an affect version folder (written atomically by `registry.write_version`) that
`python -m mmgui clip --affect-model DIR` and `MMGUI_AFFECT_MODEL` serve.

`synthetic_clips` makes clips whose true valence/arousal is a known function of the features
with a long-range dependency (a cue visible only in the first segment), the test that the
memory learns what a per-segment model cannot.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

from mmgui.config import Settings
from mmgui.data.affect_features import FEATURE_INDEX, FRAME_FEATURES, clip_features
from mmgui.data.video import load_clip
from mmgui.errors import MmguiError
from mmgui.nets.affect import AffectConfig, AffectModel
from mmgui.versions import write_version

ANNOTATION_COLUMNS = ("clip", "t_start", "t_end", "valence", "arousal")


@dataclass(frozen=True)
class AffectTraining:
    hidden: int = 32
    slots: int = 4  # 0 trains the per-segment baseline
    epochs: int = 300
    lr: float = 0.01
    seed: int = 0


@dataclass
class AffectData:
    """Padded clips: frames (N, S, F, D), frame mask (N, S, F), targets (N, S, 2), segment mask."""

    frames: np.ndarray
    mask: np.ndarray
    targets: np.ndarray
    target_mask: np.ndarray


def read_annotations(path: Path) -> dict[str, list[tuple[float, float, float, float]]]:
    """clip → [(t_start, t_end, valence, arousal)], or `MmguiError` naming the bad row."""
    if not path.is_file():
        raise MmguiError(f"{path}: no such annotations file")
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in ANNOTATION_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise MmguiError(
                f"{path}: missing column(s) {', '.join(missing)}; "
                f"expected {', '.join(ANNOTATION_COLUMNS)}"
            )
        clips: dict[str, list[tuple[float, float, float, float]]] = {}
        for line, row in enumerate(reader, start=2):
            clips.setdefault(row["clip"], []).append(_annotation(row, path, line))
    if not clips:
        raise MmguiError(f"{path}: no annotation rows")
    return clips


def _annotation(row: dict, path: Path, line: int) -> tuple[float, float, float, float]:
    try:
        t_start, t_end, valence, arousal = (float(row[c]) for c in ANNOTATION_COLUMNS[1:])
    except (TypeError, ValueError) as err:
        raise MmguiError(
            f"{path}, line {line}: t_start, t_end, valence, arousal must be numbers"
        ) from err
    if not t_end > t_start >= 0:
        raise MmguiError(f"{path}, line {line}: need 0 <= t_start < t_end")
    if not (-1 <= valence <= 1 and -1 <= arousal <= 1):
        raise MmguiError(f"{path}, line {line}: valence and arousal must lie in [-1, 1]")
    return t_start, t_end, valence, arousal


def annotated_data(annotations: Path, settings: Settings) -> AffectData:
    """Decode every annotated clip and align the annotations with its segments."""
    rows = []
    for name, spans in read_annotations(annotations).items():
        clip = load_clip(annotations.parent / name, settings)
        features = clip_features(clip, settings.clip_frames_per_segment)
        bounds = [(s.t_start, s.t_end) for s in clip.segments]
        rows.append((features.frames, features.mask, *_segment_targets(bounds, spans)))
    return _pad(rows)


def _segment_targets(
    bounds: list[tuple[float, float]], spans: list[tuple[float, float, float, float]]
) -> tuple[np.ndarray, np.ndarray]:
    targets = np.zeros((len(bounds), 2), dtype=np.float32)
    known = np.zeros(len(bounds), dtype=bool)
    for k, (start, end) in enumerate(bounds):
        overlaps = [(min(end, e) - max(start, s), v, a) for s, e, v, a in spans]
        overlaps = [(w, v, a) for w, v, a in overlaps if w > 0]
        if overlaps:
            weights = np.array([w for w, _, _ in overlaps])
            values = np.array([(v, a) for _, v, a in overlaps])
            targets[k] = weights @ values / weights.sum()
            known[k] = True
    return targets, known


def _pad(rows: list[tuple[np.ndarray, ...]]) -> AffectData:
    count, longest = len(rows), max(len(r[0]) for r in rows)
    frames_per_segment, width = rows[0][0].shape[1:]
    data = AffectData(
        frames=np.zeros((count, longest, frames_per_segment, width), dtype=np.float32),
        mask=np.zeros((count, longest, frames_per_segment), dtype=bool),
        targets=np.zeros((count, longest, 2), dtype=np.float32),
        target_mask=np.zeros((count, longest), dtype=bool),
    )
    for i, (frames, mask, targets, known) in enumerate(rows):
        segments = len(frames)
        data.frames[i, :segments], data.mask[i, :segments] = frames, mask
        data.targets[i, :segments], data.target_mask[i, :segments] = targets, known
    return data


def synthetic_clips(count: int, segments: int = 8, frames: int = 6, seed: int = 0) -> AffectData:
    """Random features with a hidden mood m = ±1 shown only by the first segment's pitch;
    valence_t = 0.5 m + 0.4 (2 brightness_t − 1), arousal_t = 0.3 m + 0.6 (2 motion_t − 1),
    with brightness_t and motion_t the segment's mean. A per-segment model cannot know m
    after the first segment; a model with memory can."""
    rng = np.random.default_rng(seed)
    features = rng.uniform(0, 1, (count, segments, frames, len(FRAME_FEATURES))).astype(np.float32)
    mood = rng.choice([-1.0, 1.0], count).astype(np.float32)
    features[:, 0, :, FEATURE_INDEX["pitch"]] = np.where(mood > 0, 0.9, 0.1)[:, None]
    brightness = features[..., FEATURE_INDEX["brightness"]].mean(axis=2)
    motion = features[..., FEATURE_INDEX["motion"]].mean(axis=2)
    valence = 0.5 * mood[:, None] + 0.4 * (2 * brightness - 1)
    arousal = 0.3 * mood[:, None] + 0.6 * (2 * motion - 1)
    return AffectData(
        frames=features,
        mask=np.ones((count, segments, frames), dtype=bool),
        targets=np.stack([valence, arousal], axis=-1).astype(np.float32),
        target_mask=np.ones((count, segments), dtype=bool),
    )


def fit_affect(
    data: AffectData, training: AffectTraining, log: Callable[[str], None] = lambda _: None
) -> AffectModel:
    """Full-batch Adam on the masked MSE; returns the trained model in eval mode."""
    torch.manual_seed(training.seed)
    config = AffectConfig(len(FRAME_FEATURES), training.hidden, training.slots)
    model = AffectModel(config)
    optimiser = torch.optim.Adam(model.parameters(), lr=training.lr)
    frames, mask = torch.from_numpy(data.frames), torch.from_numpy(data.mask)
    targets = torch.from_numpy(data.targets)
    known = torch.from_numpy(data.target_mask)
    for epoch in range(training.epochs):
        optimiser.zero_grad()
        loss = _masked_mse(model(frames, mask), targets, known)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimiser.step()
        if epoch % 50 == 0 or epoch == training.epochs - 1:
            log(f"epoch {epoch}: mse {loss.item():.4f}")
    return model.eval()


def affect_mse(model: AffectModel, data: AffectData) -> float:
    with torch.no_grad():
        predicted = model(torch.from_numpy(data.frames), torch.from_numpy(data.mask))
        loss = _masked_mse(
            predicted, torch.from_numpy(data.targets), torch.from_numpy(data.target_mask)
        )
    return float(loss)


def _masked_mse(
    predicted: torch.Tensor, targets: torch.Tensor, known: torch.Tensor
) -> torch.Tensor:
    weights = known.unsqueeze(-1).to(predicted.dtype)
    return ((predicted - targets) ** 2 * weights).sum() / (2 * weights.sum()).clamp(min=1.0)


def train_affect(
    annotations: Path,
    out: Path,
    settings: Settings,
    training: AffectTraining | None = None,
    overwrite: bool = False,
    log: Callable[[str], None] = lambda _: None,
) -> Path:
    """Train on annotated clips and write the affect version folder `out`."""
    training = training or AffectTraining()
    data = annotated_data(Path(annotations), settings)
    model = fit_affect(data, training, log)
    mse = affect_mse(model, data)

    def write_files(folder: Path) -> dict:
        save_file(model.state_dict(), str(folder / "affect.safetensors"))
        return {
            "kind": "affect",
            "description": "segment LSTM + clip memory, valence/arousal per segment",
            "affect": model.config.to_dict(),
            "feature_names": list(FRAME_FEATURES),
            "segment_s": settings.clip_segment_s,
            "frames_per_segment": settings.clip_frames_per_segment,
            "training": {**asdict(training), "annotations": str(annotations)},
            "metrics": {"train_mse": mse, "clips": len(data.frames)},
        }

    return write_version(Path(out), write_files, overwrite=overwrite)
