"""Training a `GenreHead` on cached backbone features.

BCE on the fused logits plus an auxiliary BCE per modality, AdamW, modality dropout, and
early stopping on the validation macro ROC-AUC (the best epoch's weights are kept). Runs in
seconds to minutes on two CPU cores because the backbones never run here.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from mmgui.metrics import evaluate_probs, sigmoid
from mmgui.nets.genre_model import GenreHead, HeadConfig


@dataclass(frozen=True)
class FeatureSet:
    """Backbone features of N items, which modalities each has, and their 0/1 genre labels."""

    poster: np.ndarray  # (N, poster_dim) float32
    overview: np.ndarray  # (N, overview_dim) float32
    poster_present: np.ndarray  # (N,) bool
    overview_present: np.ndarray  # (N,) bool
    labels: np.ndarray  # (N, 18) 0/1

    def __len__(self) -> int:
        return len(self.labels)

    def tensors(self) -> tuple[torch.Tensor, ...]:
        return (
            torch.as_tensor(self.poster, dtype=torch.float32),
            torch.as_tensor(self.overview, dtype=torch.float32),
            torch.as_tensor(self.poster_present, dtype=torch.float32),
            torch.as_tensor(self.overview_present, dtype=torch.float32),
        )

    def only(self, modalities: tuple[str, ...]) -> FeatureSet:
        """The same items with the modalities outside `modalities` marked absent."""
        return FeatureSet(
            self.poster,
            self.overview,
            self.poster_present & ("poster" in modalities),
            self.overview_present & ("overview" in modalities),
            self.labels,
        )


@dataclass(frozen=True)
class HeadTraining:
    """Optimisation settings of a head, stored in model.json with the version."""

    epochs: int = 80
    lr: float = 1e-3
    weight_decay: float = 1e-2
    batch_size: int = 64
    aux_weight: float = 0.5
    modality_dropout: float = 0.3
    patience: int = 12
    seed: int = 0
    grad_clip: float = 5.0  # max gradient norm per step

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class HeadResult:
    head: GenreHead
    best_epoch: int
    best_val_auc: float
    history: list[dict]


def head_logits(head: GenreHead, data: FeatureSet, batch_size: int = 1024) -> np.ndarray:
    """Fused logits (N, 18) of `head` on `data`, in eval mode."""
    head.eval()
    tensors = data.tensors()
    chunks = []
    with torch.no_grad():
        for start in range(0, len(data), batch_size):
            batch = [t[start : start + batch_size] for t in tensors]
            chunks.append(head(*batch)["logits"].numpy())
    return np.concatenate(chunks) if chunks else np.zeros((0, data.labels.shape[1]))


def _drop_modalities(
    poster_present: torch.Tensor, overview_present: torch.Tensor, rate: float, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """With probability `rate` per item, hide one of its two modalities (never both)."""
    both = (poster_present > 0) & (overview_present > 0)
    drop = (torch.rand(len(both), generator=gen) < rate) & both
    drop_poster = drop & (torch.rand(len(both), generator=gen) < 0.5)
    drop_overview = drop & ~drop_poster
    return poster_present * ~drop_poster, overview_present * ~drop_overview


def head_loss(
    head: nn.Module,
    batch: tuple[torch.Tensor, ...],
    target: torch.Tensor,
    config: HeadConfig,
    settings: HeadTraining,
    gen: torch.Generator,
) -> torch.Tensor:
    """BCE on the fused logits + the auxiliary per-modality BCE, with modality dropout.

    `head` may be a `GenreHead` or a DistributedDataParallel wrapping one.
    """
    poster, overview, poster_present, overview_present = batch
    p_present, o_present = _drop_modalities(
        poster_present.cpu(), overview_present.cpu(), settings.modality_dropout, gen
    )
    out = head(poster, overview, p_present.to(poster.device), o_present.to(poster.device))
    bce = nn.functional.binary_cross_entropy_with_logits
    loss = bce(out["logits"], target)
    if settings.aux_weight:
        aux = [out[f"{m}_logits"] for m in config.modalities]
        loss = loss + settings.aux_weight * sum(bce(a, target) for a in aux) / len(aux)
    return loss


def make_optimiser(
    head: nn.Module, settings: HeadTraining
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
    """AdamW with a cosine decay over `settings.epochs`: the one recipe every head loop uses
    (here and in `training.distributed`), so the two cannot drift apart."""
    optimiser = torch.optim.AdamW(
        head.parameters(), lr=settings.lr, weight_decay=settings.weight_decay
    )
    return optimiser, torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=settings.epochs)


def optimise_step(
    head: nn.Module,
    optimiser: torch.optim.Optimizer,
    batch: tuple[torch.Tensor, ...],
    target: torch.Tensor,
    config: HeadConfig,
    settings: HeadTraining,
    gen: torch.Generator,
) -> float:
    """One clipped gradient step on `batch`; returns its mean loss. `head` may be wrapped in
    DistributedDataParallel (the gradients are then averaged over ranks in `backward`)."""
    loss = head_loss(head, batch, target, config, settings, gen)
    optimiser.zero_grad()
    loss.backward()
    nn.utils.clip_grad_norm_(head.parameters(), settings.grad_clip)
    optimiser.step()
    return float(loss.detach())


def val_macro_auc(head: GenreHead, val: FeatureSet) -> float:
    """The early-stopping score: macro ROC-AUC on `val` through the head's own modalities."""
    probs = sigmoid(head_logits(head, val.only(head.config.modalities)))
    return evaluate_probs(val.labels, probs)["macro_roc_auc"]


def train_head(
    config: HeadConfig,
    train: FeatureSet,
    val: FeatureSet,
    settings: HeadTraining = HeadTraining(),
    on_epoch: Callable[[dict], None] | None = None,
    init_state: dict | None = None,
    device: str = "cpu",
) -> HeadResult:
    """Train a head (from scratch, or from `init_state` when finetuning); return the weights
    of the epoch with the best val AUC. `on_epoch` may raise to stop (a cancelled job)."""
    torch.manual_seed(settings.seed)
    gen = torch.Generator().manual_seed(settings.seed)
    head = GenreHead(config)
    if init_state is not None:
        head.load_state_dict(init_state)
    head.to(device)
    optimiser, scheduler = make_optimiser(head, settings)
    tensors = [t.to(device) for t in train.tensors()]
    labels = torch.as_tensor(train.labels, dtype=torch.float32, device=device)
    best = HeadResult(head, -1, -1.0, [])
    best_state = copy.deepcopy(head.state_dict())
    for epoch in range(settings.epochs):
        head.train()
        order = torch.randperm(len(train), generator=gen).to(device)
        total = 0.0
        for start in range(0, len(order), settings.batch_size):
            idx = order[start : start + settings.batch_size]
            batch = tuple(t[idx] for t in tensors)
            loss = optimise_step(head, optimiser, batch, labels[idx], config, settings, gen)
            total += loss * len(idx)
        scheduler.step()
        head.cpu()
        val_auc = val_macro_auc(head, val)
        head.to(device)
        record = {
            "epoch": epoch + 1,
            "train_loss": total / len(train),
            "val_macro_roc_auc": val_auc,
        }
        best.history.append(record)
        if val_auc > best.best_val_auc:
            best.best_epoch, best.best_val_auc = epoch + 1, val_auc
            best_state = copy.deepcopy(head.state_dict())
        if on_epoch:
            on_epoch(record)
        if epoch + 1 - best.best_epoch >= settings.patience:
            break
    head.cpu()
    head.load_state_dict({k: v.cpu() for k, v in best_state.items()})
    head.eval()
    return best
