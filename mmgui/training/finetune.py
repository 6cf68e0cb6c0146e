"""Learning from editors' corrections: a candidate version tuned from the active one.

Data: the corrected items (their latest labels), each seen `oversample` times per epoch, plus a
replay sample of the active version's original training split so the model does not forget.
Calibration (temperature, thresholds) and the comparison use the same held-out data for the
candidate and the active version: a deterministic fifth of the corrections plus the original
validation split (`eval`); both are also scored on the original test split minus any corrected
item (`test`). The candidate is flagged when it is worse than the active version on `eval`.
Its temperature is fitted on `eval`; a genre's threshold is retuned on `eval` only where that
raises the genre's F1 there by more than `threshold_margin`, else it stays the active version's
(tuned on the original validation split alone). Retuning on `eval` favours the candidate's F1
there a little; ROC-AUC is threshold-free.

heads mode: backbone features cached, only the fusion head trains (the CPU default).
full mode: the backbones train too (`training.full_finetune`; for a GPU); the version then
carries its own backbone graphs and weights.
With several GPUs visible it trains under torchrun with DDP (`training.distributed`).
"""

from __future__ import annotations

import copy
import hashlib
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from mmgui.config import PROJECT_ROOT, Settings
from mmgui.data.kaggle import MovieRecord, load_records, select_split
from mmgui.errors import MmguiError
from mmgui.genres import GENRES
from mmgui.metrics import evaluate_probs, sigmoid
from mmgui.nets.genre_model import CalibratedHead, GenreHead, HeadConfig
from mmgui.training.calibration import fit_temperature, tune_thresholds
from mmgui.training.data import feature_set, fingerprint
from mmgui.training.distributed import pick_trainer
from mmgui.training.export import HEAD_INPUTS, export_head
from mmgui.training.heads import FeatureSet, HeadResult, HeadTraining, head_logits
from mmgui.training.registry import read_model_json, write_version

OnEpoch = Callable[[dict], None]
WORSE_AUC = 0.002  # a candidate this much below the active macro ROC-AUC is flagged
WORSE_F1 = 0.005  # ... or this much below its micro-F1


@dataclass(frozen=True)
class FinetuneSettings:
    """How a finetuning job trains; stored in the new version's model.json."""

    epochs: int = 30
    lr: float = 1e-4  # the active head has converged: small steps from it
    patience: int = 6
    # Corrections often come from one slice of the catalogue (a genre, a source): seen too
    # often, their label mix becomes the model's prior for every film. They are a fifth of
    # an epoch here (2 views each against 8 replay items).
    oversample: int = 2  # each correction counts this many times per epoch
    replay_per_correction: int = 8  # replay items drawn per correction (at least min_replay)
    min_replay: int = 500
    held_out_fraction: float = 0.2
    # A genre's threshold moves from the active version's only when retuning it on the
    # evaluation data raises that genre's F1 there by more than this.
    threshold_margin: float = 0.05
    seed: int = 0
    backbone_lr: float = 1e-5  # full mode: the backbones' learning rate (the head uses lr)

    @classmethod
    def from_params(cls, params: dict) -> FinetuneSettings:
        known = {k: v for k, v in params.items() if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass
class FinetuneResult:
    version: Path
    metrics: dict  # candidate on the evaluation data
    active_metrics: dict  # the active version on the same data
    flagged: str | None
    seconds: float


def held_out(external_id: str, fraction: float) -> bool:
    """Deterministic: the same correction is always in the same part."""
    digest = hashlib.sha256(external_id.encode()).digest()
    return digest[0] / 256 < fraction


def original_data_dir(meta: dict) -> Path:
    source = Path(meta["data"]["source"])
    return source if source.is_absolute() else PROJECT_ROOT / source


def finetune_version(
    active_dir: Path,
    corrections: list[MovieRecord],
    out: Path,
    settings: Settings,
    tuning: FinetuneSettings = FinetuneSettings(),
    on_epoch: OnEpoch | None = None,
    device: str = "cpu",
    job_id: int | None = None,
    data_dir: Path | None = None,
    mode: str = "heads",
) -> FinetuneResult:
    """Tune the active version on `corrections` (+ replay) and write the candidate to `out`:
    its head only ("heads") or its backbones too ("full", see `training.full_finetune`)."""
    started = time.perf_counter()
    if not corrections:
        raise MmguiError("no corrected items to learn from: review and save some items first")
    meta = read_model_json(active_dir)
    if meta.get("kind") != "head":
        raise MmguiError(f"{meta['name']} is a {meta.get('kind')} version; only heads finetune")
    data_dir = Path(data_dir) if data_dir else original_data_dir(meta)
    if not data_dir.is_dir():
        raise MmguiError(
            f"the original training data of {meta['name']} ({data_dir}) is not here; it is "
            "needed for replay and validation (set MMGUI_REPLAY_DATA or give the job a data_dir)"
        )
    from mmgui.training.train import build_encoders

    encoders = build_encoders(meta["config_json"])
    cache = settings.cache_dir / "features"
    original = load_records(data_dir)
    corrected_ids = {r.imdb_id for r in corrections}
    train_c = [r for r in corrections if not held_out(r.imdb_id, tuning.held_out_fraction)]
    eval_c = [r for r in corrections if held_out(r.imdb_id, tuning.held_out_fraction)]
    if not train_c:
        train_c, eval_c = corrections, []
    pool = [r for r in select_split(original, "train") if r.imdb_id not in corrected_ids]
    n_replay = min(len(pool), max(tuning.min_replay, tuning.replay_per_correction * len(train_c)))
    replay = random.Random(tuning.seed).sample(pool, n_replay)
    val = [r for r in select_split(original, "val") if r.imdb_id not in corrected_ids]
    test = [r for r in select_split(original, "test") if r.imdb_id not in corrected_ids]

    head_config = HeadConfig.from_dict(meta["head"])
    init = load_file(Path(active_dir) / "head.safetensors")
    training = _head_training(meta, tuning)
    if mode == "full":
        from mmgui.training.full_finetune import feature_set_now, train_end_to_end

        training_records = train_c * tuning.oversample + replay
        trained = train_end_to_end(
            copy.deepcopy(encoders), head_config, init, training_records, eval_c + val,
            training, tuning.backbone_lr, on_epoch, device,
        )  # fmt: skip
        best = max(r["val_macro_roc_auc"] for r in trained.history)
        result = HeadResult(trained.head, trained.best_epoch, best, trained.history)

        def features(records: list[MovieRecord]) -> FeatureSet:
            return feature_set_now(trained.encoders, records, "cpu")

        eval_set = features(eval_c + val)
        tuned_encoders, distributed = trained.encoders, None  # one device (DDP: heads only)
    else:
        tuned_encoders = None

        def features(records: list[MovieRecord]) -> FeatureSet:
            return feature_set(records, encoders, cache)

        eval_set = features(eval_c + val)
        train_set = features(train_c * tuning.oversample + replay)
        trainer, distributed = pick_trainer(device)
        result = trainer(head_config, train_set, eval_set, training, on_epoch, init)

    logits = head_logits(result.head, eval_set.only(head_config.modalities))
    temperature = fit_temperature(logits, eval_set.labels)
    probs = _calibrated(result.head, eval_set, head_config, temperature)
    thresholds, untuned, retuned = anchored_thresholds(
        eval_set.labels, probs, temperature, meta, tuning.threshold_margin
    )
    metrics = evaluate_probs(eval_set.labels, probs, thresholds)
    # The active version as served (its head, temperature and thresholds), scored on its own
    # backbones' features (cached); in heads mode those are the candidate's too.
    active_head = GenreHead(head_config)
    active_head.load_state_dict(init)
    active_thresholds = _thresholds(meta)
    active_eval = eval_set if mode == "heads" else feature_set(eval_c + val, encoders, cache)
    active_probs = _calibrated(active_head, active_eval, head_config, meta["temperature"])
    active_metrics = evaluate_probs(active_eval.labels, active_probs, active_thresholds)
    if eval_c:
        n = len(eval_c)
        metrics["corrections"] = evaluate_probs(eval_set.labels[:n], probs[:n], thresholds)
        active_metrics["corrections"] = evaluate_probs(
            eval_set.labels[:n], active_probs[:n], active_thresholds
        )
    test_set = features(test)
    test_probs = _calibrated(result.head, test_set, head_config, temperature)
    metrics["test"] = evaluate_probs(test_set.labels, test_probs, thresholds)
    active_test = test_set if mode == "heads" else feature_set(test, encoders, cache)
    active_test_probs = _calibrated(active_head, active_test, head_config, meta["temperature"])
    active_metrics["test"] = evaluate_probs(
        active_test.labels, active_test_probs, active_thresholds
    )
    flagged = worse_than(metrics, active_metrics)
    served = CalibratedHead(result.head, temperature).eval()

    def write_files(folder: Path) -> dict:
        rows = [t[:64].numpy() for t in eval_set.tensors()]
        with torch.no_grad():
            parity = export_head(
                served, dict(zip(HEAD_INPUTS, rows, strict=True)), folder / "head.onnx"
            )
        save_file(result.head.state_dict(), folder / "head.safetensors")
        kept = {k: v for k, v in meta.items() if k not in ("name", "created_at", "format_version")}
        if mode == "full":
            from mmgui.training.full_finetune import write_backbones

            described = meta["backbones"]
            kept["backbones"] = write_backbones(tuned_encoders, folder, described, eval_c + val)
        return {
            **kept,
            "parent": meta["name"],
            "description": f"{meta['name']} finetuned on {len(corrections)} corrections",
            "temperature": temperature,
            "thresholds": {g: float(t) for g, t in zip(GENRES, thresholds, strict=True)},
            "untuned_genres": untuned,
            "retuned_genres": retuned,  # the others keep the parent's decision thresholds
            "metrics": {"eval": metrics, "test": metrics["test"]},
            "active_metrics": {"version": meta["name"], "eval": active_metrics},
            "flagged": flagged,
            "history": result.history,
            "export": {"onnx_max_abs_diff": parity},
            "finetune": {
                "mode": mode,
                "job_id": job_id,
                "device": device,
                "distributed": distributed,
                "settings": asdict(tuning),
                "n_corrections": len(corrections),
                "n_train_corrections": len(train_c),
                "n_eval_corrections": len(eval_c),
                "n_replay": len(replay),
                "n_eval": len(eval_set),
                "best_epoch": result.best_epoch,
                "corrections_fingerprint": fingerprint(corrections),
                "replay_source": str(data_dir),
                "seconds": round(time.perf_counter() - started, 1),
            },
        }

    version = write_version(out, write_files)
    return FinetuneResult(version, metrics, active_metrics, flagged, time.perf_counter() - started)


def _head_training(meta: dict, tuning: FinetuneSettings) -> HeadTraining:
    """The active version's optimisation settings with the finetuning overrides."""
    stored = {k: v for k, v in meta["training"].items() if k in HeadTraining.__dataclass_fields__}
    return replace(
        HeadTraining(**stored),
        epochs=tuning.epochs,
        lr=tuning.lr,
        patience=tuning.patience,
        seed=tuning.seed,
    )


def anchored_thresholds(
    labels: np.ndarray, probs: np.ndarray, temperature: float, meta: dict, margin: float
) -> tuple[np.ndarray, list[str], list[str]]:
    """Per-genre thresholds on `probs` (calibrated at `temperature`), the genres too rare to
    tune, and the genres retuned. A genre keeps the active version's threshold, carried through
    the change of temperature, unless the threshold tuned on these labels gives it an F1 more
    than `margin` higher here.

    Best-F1 thresholds of rare genres jump between near-equal optima on a few hundred items,
    so retuning them all on every job moves decisions on the whole catalogue by noise.
    """
    tuned, untuned = tune_thresholds(labels, probs)
    active = np.clip(_thresholds(meta), 1e-6, 1 - 1e-6)
    active_logit = np.log(active) - np.log1p(-active)
    carried = sigmoid(active_logit * meta["temperature"] / temperature)
    chosen, retuned = carried.copy(), []
    for g, genre in enumerate(GENRES):
        if genre in untuned:
            continue
        gain = _f1(labels[:, g], probs[:, g] >= tuned[g]) - _f1(
            labels[:, g], probs[:, g] >= carried[g]
        )
        if gain > margin:
            chosen[g] = tuned[g]
            retuned.append(genre)
    return chosen, untuned, retuned


def _f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    true_pos = float((y_true * y_pred).sum())
    return 2 * true_pos / (float(y_true.sum()) + float(y_pred.sum()) or 1.0)


def _calibrated(
    head: GenreHead, data: FeatureSet, config: HeadConfig, temperature: float
) -> np.ndarray:
    return sigmoid(head_logits(head, data.only(config.modalities)) / temperature)


def _thresholds(meta: dict) -> np.ndarray:
    return np.array([meta["thresholds"][g] for g in GENRES])


def worse_than(candidate: dict, active: dict) -> str | None:
    """Why the candidate looks worse than the active version on the same data, or None."""
    reasons = []
    if candidate["macro_roc_auc"] < active["macro_roc_auc"] - WORSE_AUC:
        reasons.append(
            f"macro ROC-AUC {candidate['macro_roc_auc']:.4f} < {active['macro_roc_auc']:.4f}"
        )
    if candidate["micro_f1"] < active["micro_f1"] - WORSE_F1:
        reasons.append(f"micro-F1 {candidate['micro_f1']:.4f} < {active['micro_f1']:.4f}")
    return "; ".join(reasons) or None
