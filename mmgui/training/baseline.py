"""Training the sources' CNN + LSTM baseline end to end, from scratch, on the same split.

Same recipe as the sources: NLTK-cleaned overview tokens, BCE + Adam + gradient clipping,
batch 64; early stopping on val macro ROC-AUC as for every model here.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from mmgui.data.image import load_image, preprocess
from mmgui.data.kaggle import MovieRecord, labels_of
from mmgui.data.text import Vocabulary, clean_overview, encoder_text
from mmgui.metrics import evaluate_probs, sigmoid
from mmgui.nets.baseline import BaselineCnnLstm, BaselineConfig

BASELINE_INPUTS = ("images", "token_ids", "poster_present", "overview_present")


@dataclass(frozen=True)
class BaselineData:
    images: np.ndarray  # (N, 3, H, W) float32
    token_ids: np.ndarray  # (N, max_len) int64
    poster_present: np.ndarray  # (N,) float32
    overview_present: np.ndarray  # (N,) float32
    labels: np.ndarray  # (N, 18)

    def tensors(self, index=slice(None)) -> tuple[torch.Tensor, ...]:
        return tuple(
            torch.as_tensor(a[index])
            for a in (self.images, self.token_ids, self.poster_present, self.overview_present)
        )


class CalibratedBaseline(nn.Module):
    """Served form: logits / temperature → probabilities."""

    def __init__(self, model: BaselineCnnLstm, temperature: float) -> None:
        super().__init__()
        self.model = model
        self.register_buffer("temperature", torch.tensor(float(temperature)))

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.model(*inputs) / self.temperature)


def overview_tokens(overview: str | None, title: str | None) -> list[str]:
    """The baseline reads the same "title. overview" text as the encoder, NLTK-cleaned."""
    if not (overview or "").strip() and not (title or "").strip():
        return []
    return clean_overview(encoder_text(overview, title).text)


def baseline_data(
    records: Sequence[MovieRecord], vocab: Vocabulary, image_size: tuple[int, int], max_len: int
) -> BaselineData:
    width, height = image_size
    images = np.zeros((len(records), 3, height, width), dtype=np.float32)
    for i, record in enumerate(records):
        if record.poster is not None:
            images[i] = preprocess(load_image(record.poster), image_size)
    token_ids = np.array(
        [vocab.encode(overview_tokens(r.overview, r.title), max_len) for r in records],
        dtype=np.int64,
    )
    return BaselineData(
        images,
        token_ids,
        np.array([r.poster is not None for r in records], dtype=np.float32),
        np.array([bool(r.overview) for r in records], dtype=np.float32),
        labels_of(records),
    )


def baseline_logits(model: nn.Module, data: BaselineData, batch_size: int = 256) -> np.ndarray:
    model.eval()
    chunks = []
    with torch.no_grad():
        for start in range(0, len(data.labels), batch_size):
            chunks.append(model(*data.tensors(slice(start, start + batch_size))).numpy())
    return np.concatenate(chunks)


def train_baseline(
    config: BaselineConfig, train: BaselineData, val: BaselineData, training: dict, log=print
) -> tuple[BaselineCnnLstm, dict]:
    """Adam + BCE + clipping; returns the best epoch's model (val macro ROC-AUC) and history."""
    torch.manual_seed(training["seed"])
    gen = torch.Generator().manual_seed(training["seed"])
    model = BaselineCnnLstm(config)
    optimiser = torch.optim.Adam(model.parameters(), lr=training["lr"])
    bce = nn.BCEWithLogitsLoss()
    labels = torch.as_tensor(train.labels, dtype=torch.float32)
    best_auc, best_epoch, best_state, history = -1.0, 0, copy.deepcopy(model.state_dict()), []
    for epoch in range(1, training["epochs"] + 1):
        model.train()
        order = torch.randperm(len(labels), generator=gen)
        total = 0.0
        for start in range(0, len(order), training["batch_size"]):
            idx = order[start : start + training["batch_size"]].numpy()
            loss = bce(model(*train.tensors(idx)), labels[idx])
            optimiser.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), training["clip"])
            optimiser.step()
            total += float(loss.detach()) * len(idx)
        probs = sigmoid(baseline_logits(model, val))
        auc = evaluate_probs(val.labels, probs)["macro_roc_auc"]
        history.append(
            {"epoch": epoch, "train_loss": total / len(labels), "val_macro_roc_auc": auc}
        )
        log(f"baseline epoch {epoch}: loss {total / len(labels):.4f}, val macro ROC-AUC {auc:.4f}")
        if auc > best_auc:
            best_auc, best_epoch, best_state = auc, epoch, copy.deepcopy(model.state_dict())
        elif epoch - best_epoch >= training["patience"]:
            break
    model.load_state_dict(best_state)
    model.eval()
    return model, {"best_epoch": best_epoch, "best_val_auc": best_auc, "history": history}
