"""Training a head on several GPUs: DistributedDataParallel under `torchrun`.

The caller stays one process (the worker, whose heartbeat and cancel live in it): it writes
the inputs to a folder, runs `python -m torch.distributed.run --standalone --nproc_per_node N
-m mmgui.training.distributed <folder>`, forwards each epoch record rank 0 appends to
`progress.jsonl` to `on_epoch` (which may raise to cancel: torchrun and its ranks are then
stopped), and loads the best epoch's weights rank 0 saves. The contract is `train_head`'s.

Each rank trains on its slice of one per-epoch permutation drawn from the same seed on every
rank (DistributedSampler's scheme); the global batch stays `HeadTraining.batch_size`, so the
steps per epoch and the learning-rate schedule match `train_head`. Rank 0 alone scores val,
decides early stopping and broadcasts the decision. The optimiser, the loss and the clipped
step are `heads`' own, so the two loops cannot drift apart.
"""

from __future__ import annotations

import copy
import ctypes
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import fields
from functools import partial
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from safetensors.torch import load_file, save_file
from torch.nn.parallel import DistributedDataParallel

from mmgui.config import child_pythonpath
from mmgui.nets.genre_model import MODALITIES, GenreHead, HeadConfig
from mmgui.training.heads import (
    FeatureSet,
    HeadResult,
    HeadTraining,
    make_optimiser,
    optimise_step,
    train_head,
    val_macro_auc,
)

POLL_SECONDS = 0.2  # how often the launcher looks for rank 0's new epoch records
STOP_GRACE_SECONDS = 20.0  # after SIGTERM, torchrun gets this long to stop its ranks
STDERR_TAIL_CHARS = 4000  # how much of torchrun's stderr a failure reports

SPEC, TRAIN, VAL, INIT = "spec.json", "train.npz", "val.npz", "init.safetensors"
PROGRESS, BEST, RESULT = "progress.jsonl", "best.safetensors", "result.json"
STDOUT, STDERR = "torchrun.out", "torchrun.err"

Trainer = Callable[..., HeadResult]


class DistributedTrainingFailed(RuntimeError):
    """torchrun or one of its ranks failed; the message ends with torchrun's stderr."""


def pick_trainer(device: str) -> tuple[Trainer, dict | None]:
    """How a job on `device` trains its head: DDP over every visible GPU when there are
    several, else `train_head` on the one device. The dict (or None) goes in model.json.
    The trainer is called as `trainer(config, train, val, settings, on_epoch, init_state)`."""
    gpus = torch.cuda.device_count() if device == "cuda" else 0
    if gpus > 1:
        trainer = partial(train_head_distributed, nprocs=gpus, backend="nccl", device="cuda")
        return trainer, {"nprocs": gpus, "backend": "nccl"}
    return partial(train_head, device=device), None


def train_head_distributed(
    config: HeadConfig,
    train: FeatureSet,
    val: FeatureSet,
    settings: HeadTraining,
    on_epoch: Callable[[dict], None] | None = None,
    init_state: dict | None = None,
    nprocs: int = 2,
    backend: str = "nccl",
    device: str = "cuda",
    workdir: Path | None = None,
) -> HeadResult:
    """`train_head` over `nprocs` processes (nccl on GPUs, gloo on CPU). `workdir` keeps the
    exchange folder (inputs, progress, torchrun's logs) for inspection; by default it is a
    temporary folder removed afterwards."""
    if backend == "nccl" and device != "cuda":
        raise ValueError("the nccl backend needs device cuda (use gloo on cpu)")
    if nprocs < 1:
        raise ValueError(f"nprocs must be at least 1, not {nprocs}")
    with ExitStack() as stack:
        if workdir is None:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="mmgui-ddp-")))
        folder = Path(workdir)
        folder.mkdir(parents=True, exist_ok=True)
        _write_spec(folder, config, train, val, settings, init_state, backend, device)
        history = _run(folder, nprocs, on_epoch)
        return _read_result(folder, config, history)


def _write_spec(
    folder: Path,
    config: HeadConfig,
    train: FeatureSet,
    val: FeatureSet,
    settings: HeadTraining,
    init_state: dict | None,
    backend: str,
    device: str,
) -> None:
    spec = {
        "config": config.to_dict(),
        "training": settings.to_dict(),
        "backend": backend,
        "device": device,
        "launcher_pid": os.getpid(),
    }
    for stale in (INIT, PROGRESS, BEST, RESULT):  # an earlier run's, in a reused workdir
        (folder / stale).unlink(missing_ok=True)
    (folder / SPEC).write_text(json.dumps(spec))
    for name, data in ((TRAIN, train), (VAL, val)):
        np.savez(folder / name, **{f.name: getattr(data, f.name) for f in fields(FeatureSet)})
    if init_state is not None:
        state = {k: v.detach().cpu().contiguous() for k, v in init_state.items()}
        save_file(state, folder / INIT)


def _load_features(path: Path) -> FeatureSet:
    with np.load(path) as arrays:
        return FeatureSet(**{f.name: arrays[f.name] for f in fields(FeatureSet)})


def _run(folder: Path, nprocs: int, on_epoch: Callable[[dict], None] | None) -> list[dict]:
    """Run torchrun to the end, forwarding rank 0's records; stop it if `on_epoch` raises."""
    process = _launch(folder, nprocs)
    progress = _Progress(folder / PROGRESS)
    history: list[dict] = []
    try:
        while True:
            finished = process.poll() is not None
            for record in progress.read():
                history.append(record)
                if on_epoch:
                    on_epoch(record)
            if finished:
                break
            time.sleep(POLL_SECONDS)
    except BaseException:
        _stop(process)
        raise
    if process.returncode != 0:
        stderr = (folder / STDERR).read_text(errors="replace")
        causes = re.findall(r"^\[rank\d+\]: \w*(?:Error|Exception)\b.*$", stderr, re.MULTILINE)
        raise DistributedTrainingFailed(
            f"torchrun ({nprocs} processes) exited with {process.returncode}"
            f"{': ' + causes[-1] if causes else ''}; the end of its stderr:\n"
            f"{stderr[-STDERR_TAIL_CHARS:]}"
        )
    return history


def _launch(folder: Path, nprocs: int) -> subprocess.Popen:
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone",
        f"--nproc_per_node={nprocs}", "-m", "mmgui.training.distributed", str(folder),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": child_pythonpath()}
    with open(folder / STDOUT, "wb") as out, open(folder / STDERR, "wb") as err:
        # A session of its own: a Ctrl-C meant for the caller reaches torchrun only via _stop.
        return subprocess.Popen(command, stdout=out, stderr=err, env=env, start_new_session=True)


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM torchrun, whose handler stops its ranks and waits for them; SIGKILL it if it
    outlives the grace (its ranks then die with it: see `_die_with_launcher`)."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(STOP_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class _Progress:
    """The complete lines rank 0 has appended to the progress file since the last read."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0

    def read(self) -> list[dict]:
        if not self.path.exists():
            return []
        with open(self.path, "rb") as handle:
            handle.seek(self.offset)
            chunk = handle.read()
        complete = chunk[: chunk.rfind(b"\n") + 1]
        self.offset += len(complete)
        return [json.loads(line) for line in complete.splitlines() if line.strip()]


def _read_result(folder: Path, config: HeadConfig, history: list[dict]) -> HeadResult:
    result = json.loads((folder / RESULT).read_text())
    if len(set(result["param_digests"])) != 1:
        raise DistributedTrainingFailed(
            f"the ranks ended with different weights: {result['param_digests']}"
        )
    head = GenreHead(config)
    head.load_state_dict(load_file(folder / BEST))
    head.eval()
    return HeadResult(head, result["best_epoch"], result["best_val_auc"], history)


# ---- what each rank runs (under torchrun) ----


def shard_indices(n_items: int, epoch: int, rank: int, world: int, seed: int) -> torch.Tensor:
    """This rank's items for `epoch`: one permutation seeded by `seed + epoch` on every rank,
    padded by wrapping to a multiple of `world`, every `world`-th item from `rank` on (as
    DistributedSampler does), so the ranks see disjoint slices of equal length."""
    order = torch.randperm(n_items, generator=torch.Generator().manual_seed(seed + epoch))
    padded = -(-n_items // world) * world
    order = torch.cat([order, order[: padded - n_items]]) if padded > n_items else order
    return order[rank:padded:world]


def _die_with_launcher() -> None:
    """torchrun starts each rank in a session of its own; if torchrun is killed outright (its
    SIGTERM handler stops the ranks, SIGKILL cannot), the rank must not train on alone."""
    if sys.platform.startswith("linux"):
        pr_set_pdeathsig = 1
        ctypes.CDLL(None).prctl(pr_set_pdeathsig, int(signal.SIGTERM))


def _has_unused_parameters(config: HeadConfig, settings: HeadTraining) -> bool:
    """Whether the loss leaves some parameters without a gradient (an auxiliary classifier
    outside the loss), which DDP must be told of; telling it otherwise costs every step."""
    return not settings.aux_weight or set(config.modalities) != set(MODALITIES)


def _params_digest(head: torch.nn.Module) -> str:
    digest = hashlib.sha256()
    for name, tensor in sorted(head.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def _launcher_gone(launcher_pid: int) -> bool:
    """Whether torchrun (this rank's parent) has lost the process that started it: it is then
    someone else's child, even while the dead launcher is an unreaped zombie."""
    stat = Path(f"/proc/{os.getppid()}/stat")
    if not stat.exists():  # not Linux: cannot tell, so never
        return False
    return int(stat.read_text().rsplit(")", 1)[1].split()[1]) != launcher_pid


class _Scorekeeper:
    """Rank 0's part: scores val on a CPU copy of the weights after each epoch, keeps the best
    epoch's weights, appends the records the launcher forwards, and saves the outcome."""

    def __init__(self, folder: Path, head: GenreHead, patience: int, launcher_pid: int) -> None:
        self.folder, self.patience, self.launcher_pid = folder, patience, launcher_pid
        self.val, self.scorer = _load_features(folder / VAL), GenreHead(head.config)
        self.best_epoch, self.best_val_auc = -1, -1.0
        self.best_state = {k: v.detach().cpu().clone() for k, v in head.state_dict().items()}

    def epoch_done(self, head: GenreHead, epoch: int, train_loss: float) -> bool:
        """Score and record `epoch` (1-based); returns whether to stop: patience has run out,
        or the launcher is gone (a worker killed outright; nobody would read the result)."""
        self.scorer.load_state_dict(head.state_dict())
        val_auc = val_macro_auc(self.scorer, self.val)
        if val_auc > self.best_val_auc:
            self.best_epoch, self.best_val_auc = epoch, val_auc
            self.best_state = copy.deepcopy(self.scorer.state_dict())
        record = {"epoch": epoch, "train_loss": train_loss, "val_macro_roc_auc": val_auc}
        with open(self.folder / PROGRESS, "a") as handle:
            handle.write(json.dumps(record) + "\n")
        return epoch - self.best_epoch >= self.patience or _launcher_gone(self.launcher_pid)

    def save(self, param_digests: list) -> None:
        save_file(self.best_state, self.folder / BEST)
        result = {"best_epoch": self.best_epoch, "best_val_auc": self.best_val_auc}
        (self.folder / RESULT).write_text(json.dumps({**result, "param_digests": param_digests}))


def train_rank(folder: Path, device: torch.device) -> None:
    """One rank's training loop; rank 0 also scores, decides when to stop, records and saves."""
    spec = json.loads((folder / SPEC).read_text())
    config, settings = HeadConfig.from_dict(spec["config"]), HeadTraining(**spec["training"])
    rank, world = dist.get_rank(), dist.get_world_size()
    train = _load_features(folder / TRAIN)
    torch.manual_seed(settings.seed)
    head = GenreHead(config)
    if (folder / INIT).exists():
        head.load_state_dict(load_file(folder / INIT))
    head.to(device)
    model = DistributedDataParallel(
        head, device_ids=[device.index] if device.type == "cuda" else None,
        find_unused_parameters=_has_unused_parameters(config, settings),
    )  # fmt: skip
    torch.manual_seed(settings.seed + rank)  # dropout differs per rank, as its items do
    gen = torch.Generator().manual_seed(settings.seed + rank)
    optimiser, scheduler = make_optimiser(model, settings)
    tensors = [t.to(device) for t in train.tensors()]
    labels = torch.as_tensor(train.labels, dtype=torch.float32, device=device)
    local_batch = max(1, settings.batch_size // world)
    keeper = (
        _Scorekeeper(folder, head, settings.patience, spec["launcher_pid"]) if rank == 0 else None
    )
    for epoch in range(settings.epochs):
        model.train()
        shard = shard_indices(len(train), epoch, rank, world, settings.seed).to(device)
        loss_sum = torch.zeros(2, dtype=torch.float64, device=device)  # sum of losses, items
        for start in range(0, len(shard), local_batch):
            idx = shard[start : start + local_batch]
            batch = tuple(t[idx] for t in tensors)
            loss = optimise_step(model, optimiser, batch, labels[idx], config, settings, gen)
            loss_sum += torch.tensor([loss * len(idx), len(idx)], device=device)
        scheduler.step()
        dist.all_reduce(loss_sum)
        stop = torch.zeros(1, dtype=torch.int32, device=device)
        if keeper:
            stop[0] = keeper.epoch_done(head, epoch + 1, float(loss_sum[0] / loss_sum[1]))
        dist.broadcast(stop, src=0)
        if stop.item():
            break
    digests: list[str | None] = [None] * world
    dist.all_gather_object(digests, _params_digest(head))
    if keeper:
        keeper.save(digests)
    dist.barrier()  # leave together: a rank tearing down while another still works may abort


def main(folder: Path) -> None:
    _die_with_launcher()
    spec = json.loads((folder / SPEC).read_text())
    local_rank = int(os.environ["LOCAL_RANK"])
    device = torch.device(f"cuda:{local_rank}" if spec["device"] == "cuda" else "cpu")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group(spec["backend"])
    try:
        train_rank(folder, device)
    finally:
        dist.destroy_process_group()
    # Everything this rank owes is on disk. Interpreter teardown with gloo's threads still
    # winding down can abort ("terminate called without an active exception", SIGABRT) and
    # fail a finished run, so a rank that succeeded leaves at once.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
