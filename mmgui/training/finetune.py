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
import functools
import hashlib
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from mmgui.config import PROJECT_ROOT, Settings
from mmgui.data.kaggle import MovieRecord, load_records, select_split
from mmgui.errors import MmguiError
from mmgui.genres import GENRES
from mmgui.nets.genre_model import CalibratedHead, HeadConfig
from mmgui.store.enums import JobMode
from mmgui.training.candidate import Candidate, Parts, Scores, score_candidate, worse_than
from mmgui.training.data import Encoders, feature_set, fingerprint
from mmgui.training.distributed import pick_trainer
from mmgui.training.export import HEAD_INPUTS, export_head
from mmgui.training.heads import FeatureSet, HeadResult, HeadTraining
from mmgui.versions import ModelKind, VersionCard, read_card, write_version

OnEpoch = Callable[[dict], None]


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


def original_data_dir(card: VersionCard) -> Path:
    source = Path(card.data.source if card.data and card.data.source else "")
    return source if source.is_absolute() else PROJECT_ROOT / source


@dataclass(frozen=True)
class Job:
    """One finetuning job: the version it starts from, its records, and how it trains."""

    card: VersionCard  # the active version's
    init: dict  # the active head's weights: where training starts
    encoders: Encoders  # the active version's backbones
    parts: Parts
    tuning: FinetuneSettings
    settings: Settings
    mode: str  # JobMode
    device: str
    job_id: int | None
    replay_source: str  # the original data folder
    started: float  # time.perf_counter() at the start
    on_epoch: OnEpoch | None = None

    @property
    def training_records(self) -> list[MovieRecord]:
        """What an epoch trains on: each correction `oversample` times, and the replay."""
        return self.parts.train_corrections * self.tuning.oversample + self.parts.replay

    @property
    def head_config(self) -> HeadConfig:
        return HeadConfig.from_dict(dict(self.card.head))


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
    mode: str = JobMode.HEADS,
) -> FinetuneResult:
    """Tune the active version on `corrections` (+ replay) and write the candidate to `out`:
    its head only ("heads") or its backbones too ("full", see `training.full_finetune`)."""
    started = time.perf_counter()
    card, data_dir = _active_card(active_dir, corrections, data_dir)
    from mmgui.training.train import build_encoders

    job = Job(
        card=card,
        init=load_file(Path(active_dir) / "head.safetensors"),
        encoders=build_encoders(dict(card.config_json)),
        parts=split_corrections(corrections, load_records(data_dir), tuning),
        tuning=tuning,
        settings=settings,
        mode=mode,
        device=device,
        job_id=job_id,
        replay_source=str(data_dir),
        started=started,
        on_epoch=on_epoch,
    )
    candidate = (_train_full if mode == JobMode.FULL else _train_heads)(job)
    active_features = None  # heads mode: the candidate's features are the active version's
    if mode != JobMode.HEADS:  # full mode: the active version is scored on its own backbones'
        cache = settings.cache_dir / "features"
        active_features = functools.partial(feature_set, encoders=job.encoders, cache_dir=cache)
    scores = score_candidate(
        card, job.head_config, job.init, candidate, active_features, job.parts,
        tuning.threshold_margin,
    )  # fmt: skip
    flagged = worse_than(scores.metrics, scores.active_metrics)
    version = write_version(
        out, lambda folder: _candidate_card(job, candidate, scores, flagged, folder)
    )
    return FinetuneResult(
        version, scores.metrics, scores.active_metrics, flagged, time.perf_counter() - started
    )


def _active_card(
    active_dir: Path, corrections: list[MovieRecord], data_dir: Path | None
) -> tuple[VersionCard, Path]:
    """The active version's card and its original data folder, or why it cannot finetune."""
    if not corrections:
        raise MmguiError("no corrected items to learn from: review and save some items first")
    card = read_card(active_dir)
    if card.kind is not ModelKind.HEAD:
        raise MmguiError(f"{card.name} is a {card.kind} version; only heads finetune")
    if card.head is None or card.config_json is None:
        raise MmguiError(f"{card.name}'s card lacks its head config or training config")
    data_dir = Path(data_dir) if data_dir else original_data_dir(card)
    if not data_dir.is_dir():
        raise MmguiError(
            f"the original training data of {card.name} ({data_dir}) is not here; it is "
            "needed for replay and validation (set MMGUI_REPLAY_DATA or give the job a data_dir)"
        )
    return card, data_dir


def split_corrections(
    corrections: list[MovieRecord], original: list[MovieRecord], tuning: FinetuneSettings
) -> Parts:
    """Held-out corrections by `held_out`, a seeded replay sample of the original training
    split, and the original val/test splits, none of which holds a corrected item."""
    corrected_ids = {r.imdb_id for r in corrections}
    train_c = [r for r in corrections if not held_out(r.imdb_id, tuning.held_out_fraction)]
    eval_c = [r for r in corrections if held_out(r.imdb_id, tuning.held_out_fraction)]
    if not train_c:
        train_c, eval_c = corrections, []

    def uncorrected(split: str) -> list[MovieRecord]:
        return [r for r in select_split(original, split) if r.imdb_id not in corrected_ids]

    pool = uncorrected("train")
    n_replay = min(len(pool), max(tuning.min_replay, tuning.replay_per_correction * len(train_c)))
    replay = random.Random(tuning.seed).sample(pool, n_replay)
    return Parts(train_c, eval_c, replay, uncorrected("val"), uncorrected("test"))


def _train_heads(job: Job) -> Candidate:
    """heads mode: cached backbone features, only the fusion head trains (DDP when several
    GPUs are visible)."""
    cache = job.settings.cache_dir / "features"

    def features(records: list[MovieRecord]) -> FeatureSet:
        return feature_set(records, job.encoders, cache)

    eval_set = features(job.parts.evaluation)
    train_set = features(job.training_records)
    trainer, distributed = pick_trainer(job.device)
    training = _head_training(job.card, job.tuning)
    result = trainer(job.head_config, train_set, eval_set, training, job.on_epoch, job.init)
    return Candidate(result, features, eval_set, None, distributed)


def _train_full(job: Job) -> Candidate:
    """full mode: the backbones train too, on one device."""
    from mmgui.training.full_finetune import feature_set_now, train_end_to_end

    trained = train_end_to_end(
        copy.deepcopy(job.encoders), job.head_config, job.init, job.training_records,
        job.parts.evaluation, _head_training(job.card, job.tuning), job.tuning.backbone_lr,
        job.on_epoch, job.device,
    )  # fmt: skip
    best = max(r["val_macro_roc_auc"] for r in trained.history)
    result = HeadResult(trained.head, trained.best_epoch, best, trained.history)

    def features(records: list[MovieRecord]) -> FeatureSet:
        return feature_set_now(trained.encoders, records, "cpu")

    return Candidate(result, features, features(job.parts.evaluation), trained.encoders, None)


def _candidate_card(
    job: Job, candidate: Candidate, scores: Scores, flagged: str | None, folder: Path
) -> dict:
    """Write the candidate's head (and, full mode, its backbones) into `folder`; its card:
    the active version's, with what this job changed and how it was made."""
    card, parts, result = job.card, job.parts, candidate.result
    served = CalibratedHead(result.head, scores.temperature).eval()
    rows = [t[:64].numpy() for t in candidate.eval_set.tensors()]
    inputs = dict(zip(HEAD_INPUTS, rows, strict=True))
    with torch.no_grad():
        parity = export_head(served, inputs, folder / "head.onnx")
    save_file(result.head.state_dict(), folder / "head.safetensors")
    backbones = card.backbones
    if candidate.tuned_encoders is not None and backbones is not None:
        from mmgui.training.full_finetune import write_backbones

        backbones = write_backbones(candidate.tuned_encoders, folder, backbones, parts.evaluation)
    corrections = parts.train_corrections + parts.eval_corrections
    tuned = replace(
        card,
        parent=card.name,
        description=f"{card.name} finetuned on {len(corrections)} corrections",
        temperature=scores.temperature,
        thresholds={g: float(t) for g, t in zip(GENRES, scores.thresholds, strict=True)},
        untuned_genres=tuple(scores.untuned),
        retuned_genres=tuple(scores.retuned),  # the others keep the parent's thresholds
        metrics={"eval": scores.metrics, "test": scores.metrics["test"]},
        active_metrics={"version": card.name, "eval": scores.active_metrics},
        flagged=flagged,
        backbones=backbones,
        finetune=_finetune_record(job, candidate),
        history=tuple(result.history),
        export={"onnx_max_abs_diff": parity},
    )
    content = tuned.to_json()
    for written_here in ("format_version", "name", "created_at"):
        content.pop(written_here)
    return content


def _finetune_record(job: Job, candidate: Candidate) -> dict:
    parts = job.parts
    corrections = parts.train_corrections + parts.eval_corrections
    return {
        "mode": job.mode,
        "job_id": job.job_id,
        "device": job.device,
        "distributed": candidate.distributed,
        "settings": asdict(job.tuning),
        "n_corrections": len(corrections),
        "n_train_corrections": len(parts.train_corrections),
        "n_eval_corrections": len(parts.eval_corrections),
        "n_replay": len(parts.replay),
        "n_eval": len(candidate.eval_set),
        "best_epoch": candidate.result.best_epoch,
        "corrections_fingerprint": fingerprint(corrections),
        "replay_source": job.replay_source,
        "seconds": round(time.perf_counter() - job.started, 1),
    }


def _head_training(card: VersionCard, tuning: FinetuneSettings) -> HeadTraining:
    """The active version's optimisation settings with the finetuning overrides."""
    fields = HeadTraining.__dataclass_fields__
    stored = {k: v for k, v in card.training.items() if k in fields}
    return replace(
        HeadTraining(**stored),
        epochs=tuning.epochs,
        lr=tuning.lr,
        patience=tuning.patience,
        seed=tuning.seed,
    )
