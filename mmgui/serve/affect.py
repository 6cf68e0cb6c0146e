"""The emotion line: valence and arousal in [-1, 1] for every segment of a clip.

Two models share one face, `line(features) -> (valence, arousal)`:

- `FilmGrammarAffect`, training-free, works out of the box. **Arousal** after Hanjalic & Xu
  (2005), "Affective video content representation and modeling", IEEE Trans. Multimedia
  7(1): a weighted average of three normalised components, motion activity m(k), rhythm
  (shot-cut rate) r(k) and sound energy e(k), smoothed over time with a Kaiser window:
  A(k) = K ∗ (α·m(k) + β·r(k) + γ·e(k)), α = β = γ (without audio, α = β and γ = 0).
  **Valence** from Valdez & Mehrabian (1994), "Effects of color on emotions", J. Exp.
  Psychol. Gen. 123(4): pleasure = 0.69·brightness + 0.22·saturation, plus our own sound cue (a
  brighter spectrum, i.e. a higher spectral centroid, reads as more pleasant), smoothed the
  same way. The scales below map typical film values to [0, 1]; no valence/arousal ground
  truth ships with the project, so the line is uncalibrated: it orders moments, it does not
  measure them.
- `LearnedAffect`: a trained segment + memory model (`nets.affect`) from a version folder
  written by `python -m mmgui train-affect`; torch is imported only when one is used.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mmgui.data.affect_features import FEATURE_INDEX, FRAME_FEATURES, ClipFeatures
from mmgui.errors import MmguiError

TRAINING_FREE = "film-grammar (training-free)"

# Hanjalic & Xu (2005) use a Kaiser window of shape β = 5 for every arousal component.
KAISER_SHAPE = 5.0


@dataclass(frozen=True)
class FilmGrammarScales:
    """How raw feature values map to [0, 1]: the training-free model's only parameters."""

    motion: float = 0.06  # mean grey-level change (0..1) giving m = 1 − 1/e
    cut_rate: float = 0.5  # cuts per second giving r = 1 − 1/e
    centroid: float = 0.25  # spectral centroid / Nyquist read as neutral sound valence
    sound_valence_weight: float = 0.25  # share of the sound cue in valence, when there is audio


class FilmGrammarAffect:
    name = TRAINING_FREE

    def __init__(
        self, segment_s: float, smoothing_s: float, scales: FilmGrammarScales | None = None
    ) -> None:
        self.scales = scales or FilmGrammarScales()
        taps = max(1, round(smoothing_s / segment_s) // 2 * 2 + 1)
        self.window = np.kaiser(taps, KAISER_SHAPE) if taps > 1 else np.ones(1)

    def line(self, features: ClipFeatures) -> tuple[np.ndarray, np.ndarray]:
        summary = features.summary()
        return self.valence(summary, features.has_audio), self.arousal(summary, features.has_audio)

    def arousal(self, summary: np.ndarray, has_audio: bool) -> np.ndarray:
        column = summary.T
        motion = 1 - np.exp(-column[FEATURE_INDEX["motion"]] / self.scales.motion)
        rhythm = 1 - np.exp(-column[FEATURE_INDEX["cut"]] / self.scales.cut_rate)
        components = [motion, rhythm]
        if has_audio:
            components.append(column[FEATURE_INDEX["loudness"]])
        return np.clip(2 * self._smooth(np.mean(components, axis=0)) - 1, -1, 1)

    def valence(self, summary: np.ndarray, has_audio: bool) -> np.ndarray:
        column = summary.T
        pleasure = (
            0.69 * column[FEATURE_INDEX["brightness"]] + 0.22 * column[FEATURE_INDEX["saturation"]]
        )
        valence = 2 * pleasure / (0.69 + 0.22) - 1
        if has_audio:
            sound = np.clip(column[FEATURE_INDEX["centroid"]] / self.scales.centroid - 1, -1, 1)
            share = self.scales.sound_valence_weight
            valence = (1 - share) * valence + share * sound
        return np.clip(self._smooth(valence), -1, 1)

    def _smooth(self, values: np.ndarray) -> np.ndarray:
        """Kaiser-window moving average; edges weigh only the segments that exist."""
        if len(self.window) == 1 or len(values) == 1:
            return values.astype(np.float32)
        centre = slice((len(self.window) - 1) // 2, (len(self.window) - 1) // 2 + len(values))
        weighted = np.convolve(values, self.window)[centre]
        norm = np.convolve(np.ones_like(values), self.window)[centre]
        return (weighted / norm).astype(np.float32)


class LearnedAffect:
    """A trained `nets.affect.AffectModel` from an affect version folder (torch, CPU)."""

    def __init__(self, version: Path) -> None:
        import torch
        from safetensors.torch import load_file

        from mmgui.nets.affect import AffectConfig, AffectModel
        from mmgui.versions import read_card

        card = read_card(version)
        if card.affect is None:
            raise MmguiError(f"{version}: not an affect model (kind {card.kind.value!r})")
        if card.affect.feature_names != FRAME_FEATURES:
            raise MmguiError(f"{version}: trained on other features than this code computes")
        self.name: str = card.name
        self.frames_per_segment: int = card.affect.frames_per_segment
        self.segment_s: float = card.affect.segment_s
        self.model = AffectModel(AffectConfig.from_dict(dict(card.affect.config))).eval()
        self.model.load_state_dict(load_file(Path(version) / "affect.safetensors"))
        self._torch = torch

    def check_settings(self, segment_s: float, frames_per_segment: int) -> None:
        """The model reads segments as it was trained on them, or not at all."""
        if (segment_s, frames_per_segment) != (self.segment_s, self.frames_per_segment):
            raise MmguiError(
                f"affect model {self.name} was trained on {self.segment_s:g} s segments of "
                f"{self.frames_per_segment} frames; the settings say {segment_s:g} s and "
                f"{frames_per_segment}: set MMGUI_CLIP_SEGMENT_S / MMGUI_CLIP_FRAMES_PER_SEGMENT"
            )

    def line(self, features: ClipFeatures) -> tuple[np.ndarray, np.ndarray]:
        torch = self._torch
        with torch.no_grad():
            out = self.model(
                torch.from_numpy(features.frames[None]), torch.from_numpy(features.mask[None])
            )[0].numpy()
        return out[:, 0], out[:, 1]
