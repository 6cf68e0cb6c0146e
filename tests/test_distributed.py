"""The DDP training path, for real: torchrun with 2 processes on the gloo backend, on CPU."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from mmgui.nets.genre_model import HeadConfig
from mmgui.store.jobs import JobCancelled
from mmgui.training import distributed
from mmgui.training.distributed import (
    DistributedTrainingFailed,
    pick_trainer,
    shard_indices,
    train_head_distributed,
)
from mmgui.training.heads import FeatureSet, HeadTraining, train_head, val_macro_auc

CONFIG = HeadConfig(poster_dim=16, overview_dim=8, hidden=32, dropout=0.1)
TRAINING = HeadTraining(epochs=8, lr=1e-2, batch_size=64, patience=3)
RUN_ON_CPU = {"nprocs": 2, "backend": "gloo", "device": "cpu"}


def synthetic(n_items: int, seed: int) -> FeatureSet:
    """Genres 0-15 show in the poster features, genres 10-17 in the overview's."""
    rng = np.random.default_rng(seed)
    labels = (rng.random((n_items, 18)) < 0.3).astype(np.float32)
    poster = 3.0 * labels[:, :16] + rng.standard_normal((n_items, 16))
    overview = 3.0 * labels[:, 10:] + rng.standard_normal((n_items, 8))
    return FeatureSet(
        poster.astype(np.float32),
        overview.astype(np.float32),
        np.ones(n_items, bool),
        rng.random(n_items) < 0.8,
        labels,
    )


@pytest.fixture(scope="module")
def data() -> tuple[FeatureSet, FeatureSet]:
    return synthetic(256, seed=0), synthetic(128, seed=1)


def processes_mentioning(text: str) -> list[int]:
    """Live processes whose command line holds `text` (torchrun and its ranks name the folder)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and text.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:  # the process ended while we looked
            continue
    return [pid for pid in found if pid != os.getpid()]


def test_each_rank_gets_an_equal_disjoint_slice_of_one_permutation() -> None:
    shards = [shard_indices(10, epoch=3, rank=r, world=4, seed=0) for r in range(4)]
    assert {len(s) for s in shards} == {3}  # 10 items padded to 12
    assert set(torch.cat(shards).tolist()) == set(range(10))
    again = shard_indices(10, epoch=3, rank=1, world=4, seed=0)
    assert torch.equal(shards[1], again)
    assert not torch.equal(shards[1], shard_indices(10, epoch=4, rank=1, world=4, seed=0))


def test_the_trainer_is_ddp_only_with_several_gpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    trainer, spec = pick_trainer("cuda")
    assert trainer.func is train_head_distributed and spec == {"nprocs": 4, "backend": "nccl"}
    assert trainer.keywords == {"nprocs": 4, "backend": "nccl", "device": "cuda"}
    trainer, spec = pick_trainer("cpu")
    assert trainer.func is train_head and trainer.keywords == {"device": "cpu"} and spec is None
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert pick_trainer("cuda")[1] is None


def test_torchrun_with_two_gloo_processes_trains_a_head(
    data: tuple[FeatureSet, FeatureSet], tmp_path: Path
) -> None:
    train, val = data
    seen: list[dict] = []
    result = train_head_distributed(
        CONFIG, train, val, TRAINING, on_epoch=seen.append, workdir=tmp_path, **RUN_ON_CPU
    )
    assert seen == result.history and [r["epoch"] for r in seen] == list(range(1, len(seen) + 1))
    assert set(seen[0]) == {"epoch", "train_loss", "val_macro_roc_auc"}
    assert seen[-1]["train_loss"] < seen[0]["train_loss"]
    assert result.best_val_auc == max(r["val_macro_roc_auc"] for r in seen) > 0.8
    head = result.head
    assert not head.training and next(head.parameters()).device.type == "cpu"
    assert val_macro_auc(head, val) == pytest.approx(result.best_val_auc)
    digests = json.loads((tmp_path / distributed.RESULT).read_text())["param_digests"]
    assert len(digests) == 2 and digests[0] == digests[1]  # DDP kept the replicas identical


def test_a_raising_on_epoch_stops_torchrun_and_its_ranks(
    data: tuple[FeatureSet, FeatureSet], tmp_path: Path
) -> None:
    train, val = data
    endless = HeadTraining(epochs=10_000, patience=10_000, batch_size=64)
    seen: list[dict] = []

    def cancel_at_epoch_two(record: dict) -> None:
        seen.append(record)
        if record["epoch"] == 2:
            raise JobCancelled("cancelled")  # what the worker's jobs.report raises

    with pytest.raises(JobCancelled, match="cancelled"):
        train_head_distributed(
            CONFIG, train, val, endless, cancel_at_epoch_two, workdir=tmp_path, **RUN_ON_CPU
        )
    assert [r["epoch"] for r in seen] == [1, 2]
    deadline = time.monotonic() + 10
    while processes_mentioning(str(tmp_path)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert processes_mentioning(str(tmp_path)) == []


def test_a_failing_rank_is_reported_with_its_error(data: tuple[FeatureSet, FeatureSet]) -> None:
    train, val = data
    wrong_init = {"poster.missing": torch.zeros(3)}
    one_rank = {**RUN_ON_CPU, "nprocs": 1}  # the failure path is torchrun's either way
    with pytest.raises(DistributedTrainingFailed, match="loading state_dict"):
        train_head_distributed(CONFIG, train, val, TRAINING, init_state=wrong_init, **one_rank)
