"""Full finetuning: the poster and overview backbones train together with the head.

Meant for a GPU: every epoch runs the backbones over every training image and text (no
feature cache can hold features of weights that keep changing). BatchNorm layers keep their
pretrained statistics (eval mode): finetuning batches are too small to re-estimate them. The
backbones learn at `backbone_lr`, the head at the finetuning `lr`. Early stopping on the
evaluation macro ROC-AUC keeps the best epoch's weights of all three.
"""

from __future__ import annotations

import copy
import dataclasses
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import save_file
from torch import nn

from mmgui.data.image import load_image, preprocess_batch
from mmgui.data.kaggle import MovieRecord, labels_of
from mmgui.data.text import encoder_text
from mmgui.files import file_sha256
from mmgui.metrics import evaluate_probs, sigmoid
from mmgui.nets.genre_model import GenreHead, HeadConfig
from mmgui.training.data import Encoders
from mmgui.training.heads import FeatureSet, HeadTraining, head_logits, head_loss
from mmgui.versions import Backbone, Backbones

OnEpoch = Callable[[dict], None]
BACKBONES_DIR = "backbones"  # a fully finetuned version carries its own backbones here


@dataclass
class EndToEnd:
    head: GenreHead
    encoders: Encoders  # with the finetuned backbones (on CPU, eval mode)
    history: list[dict]
    best_epoch: int


def _freeze_batchnorm(module: nn.Module) -> None:
    for layer in module.modules():
        if isinstance(layer, nn.modules.batchnorm._BatchNorm):
            layer.eval()


def encode(
    encoders: Encoders, records: Sequence[MovieRecord], device: str, grad: bool = False
) -> tuple[torch.Tensor, ...]:
    """(poster features, overview features, poster present, overview present) of `records`
    through the current backbones; absent modalities get zero rows."""
    n = len(records)
    poster = torch.zeros(n, encoders.poster.dim, device=device)
    overview = torch.zeros(n, encoders.overview.dim, device=device)
    with_poster = [i for i, r in enumerate(records) if r.poster is not None]
    with_text = [i for i, r in enumerate(records) if r.overview]
    with torch.set_grad_enabled(grad):
        if with_poster:
            images = [load_image(records[i].poster) for i in with_poster]
            batch = torch.from_numpy(preprocess_batch(images, encoders.poster_size)).to(device)
            rows = torch.tensor(with_poster, device=device)
            poster = poster.index_put((rows,), encoders.poster(batch))
        if with_text:
            texts = [encoder_text(records[i].overview, records[i].title).text for i in with_text]
            ids, mask = encoders.tokenizer()(texts)
            ids, mask = torch.from_numpy(ids).to(device), torch.from_numpy(mask).to(device)
            rows = torch.tensor(with_text, device=device)
            overview = overview.index_put((rows,), encoders.overview(ids, mask))
    poster_present = torch.tensor([float(r.poster is not None) for r in records], device=device)
    overview_present = torch.tensor([float(bool(r.overview)) for r in records], device=device)
    return poster, overview, poster_present, overview_present


def feature_set_now(
    encoders: Encoders, records: Sequence[MovieRecord], device: str, batch_size: int = 32
) -> FeatureSet:
    """Features of (non-empty) `records` through the backbones as they are now (not cached)."""
    parts = [
        encode(encoders, records[start : start + batch_size], device)
        for start in range(0, len(records), batch_size)
    ]
    poster, overview, poster_present, overview_present = (
        torch.cat([part[k] for part in parts]).cpu().numpy() for k in range(4)
    )
    return FeatureSet(
        poster, overview, poster_present > 0, overview_present > 0, labels_of(records)
    )


def train_end_to_end(
    encoders: Encoders,
    head_config: HeadConfig,
    init_state: dict,
    train: Sequence[MovieRecord],
    evaluation: Sequence[MovieRecord],
    training: HeadTraining,
    backbone_lr: float,
    on_epoch: OnEpoch | None = None,
    device: str = "cpu",
) -> EndToEnd:
    torch.manual_seed(training.seed)
    gen = torch.Generator().manual_seed(training.seed)
    head = GenreHead(head_config)
    head.load_state_dict(init_state)
    modules = nn.ModuleDict(
        {"poster": encoders.poster, "overview": encoders.overview, "head": head}
    )
    modules.to(device)
    backbones = [*encoders.poster.parameters(), *encoders.overview.parameters()]
    groups = [{"params": backbones, "lr": backbone_lr}, {"params": head.parameters()}]
    optimiser = torch.optim.AdamW(groups, lr=training.lr, weight_decay=training.weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=training.epochs)
    labels = torch.as_tensor(labels_of(train), dtype=torch.float32)
    best_state, best_auc, best_epoch, history = copy.deepcopy(modules.state_dict()), -1.0, 0, []
    for epoch in range(training.epochs):
        modules.train()
        _freeze_batchnorm(modules)
        order = torch.randperm(len(train), generator=gen).tolist()
        total = 0.0
        for start in range(0, len(order), training.batch_size):
            idx = order[start : start + training.batch_size]
            batch = encode(encoders, [train[i] for i in idx], device, grad=True)
            loss = head_loss(head, batch, labels[idx].to(device), head_config, training, gen)
            optimiser.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(modules.parameters(), training.grad_clip)
            optimiser.step()
            total += float(loss.detach()) * len(idx)
        scheduler.step()
        modules.eval()
        evaluation_set = feature_set_now(encoders, evaluation, device)
        head.cpu()
        probs = sigmoid(head_logits(head, evaluation_set.only(head_config.modalities)))
        head.to(device)
        auc = evaluate_probs(evaluation_set.labels, probs)["macro_roc_auc"]
        record = {"epoch": epoch + 1, "train_loss": total / len(train), "val_macro_roc_auc": auc}
        history.append(record)
        if auc > best_auc:
            best_auc, best_epoch, best_state = auc, epoch + 1, copy.deepcopy(modules.state_dict())
        if on_epoch:
            on_epoch(record)
        if epoch + 1 - best_epoch >= training.patience:
            break
    modules.load_state_dict(best_state)
    modules.cpu().eval()
    return EndToEnd(head, encoders, history, best_epoch)


def write_backbones(
    encoders: Encoders, folder: Path, described: Backbones, samples: Sequence[MovieRecord]
) -> Backbones:
    """Save the finetuned backbones into the version (`backbones/`: their ONNX graphs, checked
    against torch, the tokenizer, and the weights for the torch copy); returns the version's
    new backbones. `samples`: real records for the parity check."""
    from mmgui.nets.backbones import minilm_dir
    from mmgui.nets.export import export_overview_backbone, export_poster_backbone

    target = folder / BACKBONES_DIR
    target.mkdir()
    with_poster = [r for r in samples if r.poster is not None][:2]
    images = preprocess_batch([load_image(r.poster) for r in with_poster], encoders.poster_size)
    ids, mask = encoders.tokenizer()([encoder_text(r.overview, r.title).text for r in samples[:2]])
    with torch.no_grad():
        parity = {
            "poster": export_poster_backbone(encoders.poster, images, target / "poster.onnx"),
            "overview": export_overview_backbone(
                encoders.overview, ids, mask, target / "overview.onnx"
            ),
        }
    shutil.copyfile(minilm_dir() / "tokenizer.json", target / "tokenizer.json")
    tuned = {}
    for name, module in (("poster", encoders.poster), ("overview", encoders.overview)):
        weights = target / f"{name}.safetensors"
        save_file(module.state_dict(), weights)
        packaged: Backbone = getattr(described, name)
        tuned[name] = dataclasses.replace(
            packaged,
            weights_sha256=file_sha256(weights),
            finetuned_from=packaged.weights_sha256,
            onnx_max_abs_diff=parity[name],
        )
    return Backbones(tuned["poster"], tuned["overview"], in_version=BACKBONES_DIR)
