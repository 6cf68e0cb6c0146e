"""The clip head and the affect model as torch modules: shapes, masks, what drives attention."""

from __future__ import annotations

import torch

from mmgui.nets.affect import AffectConfig, AffectModel
from mmgui.nets.clip import ClipGenreHead, ClipHeadConfig


def _clip_inputs(clips: int = 2, segments: int = 5) -> tuple[torch.Tensor, ...]:
    torch.manual_seed(0)
    mask = torch.ones(clips, segments, dtype=torch.bool)
    mask[1, 3:] = False
    return (
        torch.randn(clips, segments, 12),
        torch.randn(clips, segments, 4),
        torch.randn(clips, 6),
        torch.tensor([1.0, 0.0]),
        mask,
    )


def test_clip_head_pools_over_real_segments_and_the_text_steers_it() -> None:
    head = ClipGenreHead(ClipHeadConfig(keyframe_dim=12, audio_dim=4, text_dim=6, hidden=8)).eval()
    keyframes, audio, text, present, mask = _clip_inputs()
    assert head(keyframes, audio, text, present, mask).shape == (2, 18)
    _, _, weights = head.attention(keyframes, audio, text, present, mask)
    assert torch.allclose(weights.sum(-1), torch.ones(2))
    assert torch.all(weights[1, 3:] == 0)
    _, _, other = head.attention(keyframes, audio, -text, present, mask)
    assert not torch.allclose(weights[0], other[0])  # the text changes where it looks
    assert torch.allclose(weights[1], other[1])  # no text: the learned query, text ignored


def test_affect_model_outputs_bounded_values_per_segment_with_and_without_memory() -> None:
    frames, mask = torch.rand(3, 7, 6, 9), torch.ones(3, 7, 6, dtype=torch.bool)
    mask[:, :, 4:] = False
    for slots in (0, 4):
        model = AffectModel(AffectConfig(features=9, hidden=8, slots=slots)).eval()
        out = model(frames, mask)
        assert out.shape == (3, 7, 2) and out.abs().max() <= 1


def test_the_memory_carries_the_past_forward_and_never_the_future() -> None:
    model = AffectModel(AffectConfig(features=9, hidden=8, slots=4)).eval()
    frames, mask = torch.rand(1, 6, 6, 9), torch.ones(1, 6, 6, dtype=torch.bool)
    changed = frames.clone()
    changed[0, 0] = torch.rand(6, 9)
    with torch.no_grad():
        before, after = model(frames, mask), model(changed, mask)
    assert not torch.allclose(before[0, 5], after[0, 5])  # segment 0 reaches segment 5
    changed = frames.clone()
    changed[0, 5] = torch.rand(6, 9)
    with torch.no_grad():
        later = model(changed, mask)
    assert torch.allclose(before[0, :5], later[0, :5])  # causal: the future is not read
