"""`python -m mmgui train`: a Kaggle-format folder + a named config → a model version folder.

Two kinds of config share every step but the model: "head" (frozen pretrained backbones,
cached features, a fusion head) and "baseline" (the sources' CNN + LSTM from scratch). Both
go: fit with early stopping on val → temperature and per-genre thresholds on val → metrics on
val and test → ONNX export checked against torch → the version folder, written atomically.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file
from torch import nn

from mmgui.config import Settings
from mmgui.data.kaggle import MovieRecord, load_records, select_split
from mmgui.data.text import Vocabulary
from mmgui.errors import MmguiError
from mmgui.genres import GENRES
from mmgui.metrics import evaluate_probs, sigmoid
from mmgui.nets.backbones import load_overview_backbone, load_poster_backbone
from mmgui.nets.baseline import BaselineConfig
from mmgui.nets.export import export_checked
from mmgui.nets.genre_model import CalibratedHead, HeadConfig
from mmgui.training.baseline import (
    BASELINE_INPUTS,
    CalibratedBaseline,
    baseline_data,
    baseline_logits,
    overview_tokens,
    train_baseline,
)
from mmgui.training.calibration import fit_temperature, tune_thresholds
from mmgui.training.configs import load_config
from mmgui.training.data import Encoders, feature_set, fingerprint
from mmgui.training.export import HEAD_INPUTS, export_head
from mmgui.training.heads import FeatureSet, HeadTraining, head_logits, train_head
from mmgui.versions import write_version

Log = Callable[[str], None]
SPLITS = ("train", "val", "test")


@dataclass
class Trained:
    """What a trainer hands back: logits per split, and how to calibrate and export itself."""

    logits: dict[str, np.ndarray]
    labels: dict[str, np.ndarray]
    meta: dict
    calibrate: Callable[[float], nn.Module]
    export: Callable[[nn.Module, Path], dict]


def build_encoders(config: dict) -> Encoders:
    """The config's backbones; `"tiny_backbones": true` gives random tiny ones (tests)."""
    tiny = bool(config.get("tiny_backbones", False))
    return Encoders(
        poster=load_poster_backbone(tiny=tiny, pooling=config.get("poster_pooling", "pyramid")),
        overview=load_overview_backbone(tiny=tiny),
        poster_size=tuple(config["poster_size"]),
        max_tokens=int(config["max_tokens"]),
    )


def split_feature_sets(
    splits: dict[str, list[MovieRecord]], encoders: Encoders, settings: Settings, log: Log
) -> dict[str, FeatureSet]:
    sets = {}
    for split, records in splits.items():
        started = time.perf_counter()
        sets[split] = feature_set(records, encoders, settings.cache_dir / "features")
        log(f"{split}: {len(records)} movies, features in {time.perf_counter() - started:.1f}s")
    return sets


def train_head_kind(
    config: dict, splits: dict[str, list[MovieRecord]], settings: Settings, log: Log
) -> Trained:
    encoders = build_encoders(config)
    sets = split_feature_sets(splits, encoders, settings, log)
    modalities = tuple(config["modalities"])
    head_config = HeadConfig(
        poster_dim=encoders.poster.dim,
        overview_dim=encoders.overview.dim,
        hidden=config["hidden"],
        fusion=config["fusion"],
        dropout=config["dropout"],
        modalities=modalities,
    )
    training = HeadTraining(**config["training"])
    started = time.perf_counter()
    result = train_head(head_config, sets["train"], sets["val"], training)
    log(
        f"head: best epoch {result.best_epoch}, val macro ROC-AUC {result.best_val_auc:.4f}, "
        f"{time.perf_counter() - started:.1f}s"
    )

    def export(calibrated: nn.Module, folder: Path) -> dict:
        rows = [t[:64].numpy() for t in sets["val"].tensors()]
        parity = export_head(
            calibrated, dict(zip(HEAD_INPUTS, rows, strict=True)), folder / "head.onnx"
        )
        save_file(calibrated.head.state_dict(), folder / "head.safetensors")
        return {"backbones": encoders.describe(), "export": {"onnx_max_abs_diff": parity}}

    return Trained(
        logits={s: head_logits(result.head, sets[s].only(modalities)) for s in SPLITS},
        labels={s: sets[s].labels for s in SPLITS},
        meta={
            "head": head_config.to_dict(),
            "training": {**training.to_dict(), "best_epoch": result.best_epoch},
            "history": result.history,
        },
        calibrate=lambda t: CalibratedHead(result.head, t).eval(),
        export=export,
    )


def train_baseline_kind(
    config: dict, splits: dict[str, list[MovieRecord]], settings: Settings, log: Log
) -> Trained:
    tokens = [overview_tokens(r.overview, r.title) for r in splits["train"]]
    vocab = Vocabulary.build(tokens, min_count=config["min_count"], max_size=config["vocab_size"])
    size, max_len = tuple(config["poster_size"]), config["max_len"]
    data = {s: baseline_data(splits[s], vocab, size, max_len) for s in SPLITS}
    model_config = BaselineConfig(vocab_size=len(vocab), **config["model"])
    started = time.perf_counter()
    model, fit = train_baseline(model_config, data["train"], data["val"], config["training"], log)
    log(f"baseline: best epoch {fit['best_epoch']}, {time.perf_counter() - started:.1f}s")

    def export(calibrated: nn.Module, folder: Path) -> dict:
        rows = [t.numpy() for t in data["val"].tensors(slice(0, 32))]
        inputs = dict(zip(BASELINE_INPUTS, rows, strict=True))
        axes = {"images": {0: "batch"}, "token_ids": {0: "batch", 1: "tokens"}}
        axes |= {"poster_present": {0: "batch"}, "overview_present": {0: "batch"}}
        parity = export_checked(calibrated, inputs, "genre_probs", axes, folder / "model.onnx")
        (folder / "vocab.json").write_text(vocab.to_json())
        return {
            "inputs": {"poster_size": list(size), "max_len": max_len},
            "export": {"onnx_max_abs_diff": parity},
        }

    return Trained(
        logits={s: baseline_logits(model, data[s]) for s in SPLITS},
        labels={s: data[s].labels for s in SPLITS},
        meta={
            "model": model_config.to_dict(),
            "training": {**config["training"], "best_epoch": fit["best_epoch"]},
            "history": fit["history"],
        },
        calibrate=lambda t: CalibratedBaseline(model, t).eval(),
        export=export,
    )


TRAINERS = {"head": train_head_kind, "baseline": train_baseline_kind}


def train_version(
    data_dir: Path,
    config_name: str,
    out: Path,
    settings: Settings,
    overwrite: bool = False,
    parent: str | None = None,
    log: Log = print,
) -> Path:
    """Train the named config on `data_dir` and write the version folder `out`."""
    if Path(out).exists() and not overwrite:
        raise MmguiError(f"{out} already exists; choose another --out or pass --overwrite")
    config = load_config(config_name)
    if config["kind"] not in TRAINERS:
        raise MmguiError(f"config {config['name']}: unknown kind {config['kind']!r}")
    records = load_records(data_dir)
    splits = {split: select_split(records, split) for split in SPLITS}
    trained = TRAINERS[config["kind"]](config, splits, settings, log)

    temperature = fit_temperature(trained.logits["val"], trained.labels["val"])
    served = trained.calibrate(temperature)
    probs = {s: sigmoid(trained.logits[s] / temperature) for s in SPLITS}
    thresholds, untuned = tune_thresholds(trained.labels["val"], probs["val"])
    metrics = {s: evaluate_probs(trained.labels[s], probs[s], thresholds) for s in ("val", "test")}
    log(
        f"test: macro ROC-AUC {metrics['test']['macro_roc_auc']:.4f}, "
        f"micro-F1 {metrics['test']['micro_f1']:.4f}"
    )

    def write_files(folder: Path) -> dict:
        with torch.no_grad():
            exported = trained.export(served, folder)
        return {
            "kind": config["kind"],
            "config": config["name"],
            "config_json": config,
            "description": config.get("description", ""),
            "parent": parent,
            "genres": list(GENRES),
            "temperature": temperature,
            "thresholds": {g: float(t) for g, t in zip(GENRES, thresholds, strict=True)},
            "untuned_genres": untuned,
            "metrics": metrics,
            **trained.meta,
            **exported,
            "data": {
                "source": str(data_dir),
                "fingerprint": fingerprint(records),
                **{f"n_{split}": len(splits[split]) for split in SPLITS},
            },
        }

    return write_version(out, write_files, overwrite=overwrite)
