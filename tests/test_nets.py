"""Genre model pieces with tiny random weights: fusion variants, missing modalities, export."""

from __future__ import annotations

import pytest
import torch

from mmgui.genres import GENRES
from mmgui.nets.backbones import load_overview_backbone, load_poster_backbone
from mmgui.nets.fusion import FUSIONS, create_fusion
from mmgui.nets.genre_model import CalibratedHead, GenreHead, GenreModel, HeadConfig
from mmgui.training.export import export_head

N, POSTER_DIM, OVERVIEW_DIM, HIDDEN = 5, 12, 8, 6


def _inputs(poster_present=(1, 1, 1, 0, 1), overview_present=(1, 1, 0, 1, 1)):
    gen = torch.Generator().manual_seed(0)
    return (
        torch.randn(N, POSTER_DIM, generator=gen),
        torch.randn(N, OVERVIEW_DIM, generator=gen),
        torch.tensor(poster_present, dtype=torch.float32),
        torch.tensor(overview_present, dtype=torch.float32),
    )


def _head(fusion: str = "concat", modalities=("poster", "overview")) -> GenreHead:
    torch.manual_seed(0)
    config = HeadConfig(POSTER_DIM, OVERVIEW_DIM, HIDDEN, fusion, 0.0, tuple(modalities))
    return GenreHead(config).eval()


@pytest.mark.parametrize("fusion", sorted(FUSIONS))
def test_every_fusion_gives_logits_for_every_genre(fusion: str) -> None:
    out = _head(fusion)(*_inputs())
    assert out["logits"].shape == (N, len(GENRES))
    assert out["poster_logits"].shape == out["overview_logits"].shape == (N, len(GENRES))
    assert torch.isfinite(out["logits"]).all()


@pytest.mark.parametrize("fusion", sorted(FUSIONS))
def test_fusion_output_width(fusion: str) -> None:
    op = create_fusion(fusion, HIDDEN)
    fused = op(torch.ones(2, HIDDEN), torch.zeros(2, HIDDEN))
    assert fused.shape == (2, op.out_dim)
    assert op.out_dim == (2 * HIDDEN if fusion == "concat" else HIDDEN)


def test_fusion_operators_compute_what_they_say() -> None:
    poster, overview = torch.tensor([[1.0, -2.0]]), torch.tensor([[3.0, 4.0]])
    assert create_fusion("add", 2)(poster, overview).tolist() == [[4.0, 2.0]]
    assert create_fusion("mul", 2)(poster, overview).tolist() == [[3.0, -8.0]]
    assert create_fusion("max", 2)(poster, overview).tolist() == [[3.0, 4.0]]
    assert create_fusion("concat", 2)(poster, overview).tolist() == [[1.0, -2.0, 3.0, 4.0]]
    gated = create_fusion("gated", 2)
    mixed = gated(poster, overview)
    assert (
        (mixed >= torch.minimum(poster, overview)) & (mixed <= torch.maximum(poster, overview))
    ).all()


def test_unknown_fusion_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown fusion"):
        create_fusion("attention", 4)


def test_an_absent_modality_is_ignored_whatever_its_features() -> None:
    head = _head("gated")
    poster, overview, poster_present, overview_present = _inputs()
    noisy = poster.clone()
    noisy[3] = 1000.0  # item 3 has no poster: its poster features must not matter
    a = head(poster, overview, poster_present, overview_present)["logits"]
    b = head(noisy, overview, poster_present, overview_present)["logits"]
    torch.testing.assert_close(a[3], b[3])
    assert not torch.allclose(
        a[0], head(noisy * 0, overview, poster_present, overview_present)["logits"][0]
    )


def test_a_single_modality_config_never_reads_the_other() -> None:
    head = _head("concat", modalities=("overview",))
    poster, overview, poster_present, overview_present = _inputs()
    a = head(poster, overview, poster_present, overview_present)["logits"]
    b = head(torch.randn_like(poster), overview, poster_present, overview_present)["logits"]
    torch.testing.assert_close(a, b)


def test_calibrated_head_divides_logits_by_the_temperature() -> None:
    head = _head()
    inputs = _inputs()
    logits = head(*inputs)["logits"]
    probs = CalibratedHead(head, temperature=2.0)(*inputs)
    torch.testing.assert_close(probs, torch.sigmoid(logits / 2.0))


def test_genre_model_runs_tiny_backbones_end_to_end() -> None:
    poster, overview = load_poster_backbone(tiny=True), load_overview_backbone(tiny=True)
    config = HeadConfig(poster.dim, overview.dim, HIDDEN, "gated", 0.0)
    model = GenreModel(poster, overview, CalibratedHead(GenreHead(config), 1.0)).eval()
    ids = torch.randint(1000, 2000, (2, 7))
    probs = model(
        torch.randn(2, 3, 48, 32), ids, torch.ones_like(ids), torch.ones(2), torch.ones(2)
    )
    assert probs.shape == (2, len(GENRES))
    assert ((probs > 0) & (probs < 1)).all()


def test_tiny_backbones_are_reproducible() -> None:
    a, b = load_poster_backbone(tiny=True), load_poster_backbone(tiny=True)
    images = torch.randn(1, 3, 32, 32)
    torch.testing.assert_close(a(images), b(images))


@pytest.mark.parametrize("fusion", sorted(FUSIONS))
def test_head_export_matches_torch(fusion: str, tmp_path) -> None:
    head = CalibratedHead(_head(fusion), 1.3).eval()
    names = ("poster_features", "overview_features", "poster_present", "overview_present")
    inputs = {name: t.numpy() for name, t in zip(names, _inputs(), strict=True)}
    diff = export_head(head, inputs, tmp_path / "head.onnx")
    assert diff <= 1e-4
    assert (tmp_path / "head.onnx").exists()
    assert not list(tmp_path.glob("*.tmp"))


def test_a_failed_parity_check_leaves_no_graph(tmp_path, monkeypatch) -> None:
    import mmgui.nets.export

    monkeypatch.setattr(mmgui.nets.export, "PARITY_ATOL", -1.0)  # nothing can pass
    head = CalibratedHead(_head(), 1.0).eval()
    names = ("poster_features", "overview_features", "poster_present", "overview_present")
    inputs = {name: t.numpy() for name, t in zip(names, _inputs(), strict=True)}
    with pytest.raises(AssertionError, match="differs"):
        export_head(head, inputs, tmp_path / "head.onnx")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("pooling", "dim"), [("last", 16), ("pyramid", 2 * (8 + 16))])
def test_poster_pooling_widths(pooling: str, dim: int) -> None:
    backbone = load_poster_backbone(tiny=True, pooling=pooling)
    features = backbone(torch.rand(2, 3, 48, 32))
    assert backbone.dim == dim and features.shape == (2, dim)
    assert backbone.feature_maps(torch.rand(1, 3, 48, 32)).shape[1] == 16
    if pooling == "pyramid":
        # mean and spread of each map: spreads are non-negative
        assert (features[:, 8:16] >= 0).all() and (features[:, 32:] >= 0).all()
