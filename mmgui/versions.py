"""The model-version folder and its card: what every part of mmgui agrees a version is.

A version is a folder of ONNX graphs and weights with a `model.json`, read here into a typed,
frozen `VersionCard` (kind, genres, thresholds, temperature, backbones, metrics, parent, ...).
Training writes versions, serving and the store read them; both import this module, never each
other. It needs no torch.

A version is written whole or not at all: everything goes to a hidden temporary folder beside
the target, which is renamed into place at the end, so a crash never leaves half a version. The
card is checked before anything is renamed, so no folder with an unreadable card lands.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import onnxruntime as ort

from mmgui.errors import MmguiError

MODEL_JSON = "model.json"
FORMAT_VERSION = 1


class ModelKind(StrEnum):
    HEAD = "head"  # frozen (or finetuned) pretrained backbones + a fusion head
    BASELINE = "baseline"  # the sources' CNN + LSTM, one graph
    AFFECT = "affect"  # valence/arousal per clip segment


@dataclass(frozen=True)
class Backbone:
    """One backbone a head version was trained on, by name and the hash of its weights."""

    name: str
    dim: int
    weights_sha256: str
    input_size: tuple[int, int] | None = None  # poster: (width, height)
    pooling: str | None = None  # poster: "last" or "pyramid"
    max_tokens: int | None = None  # overview
    text: str | None = None  # overview: how title and overview are joined
    finetuned_from: str | None = None  # a fully finetuned copy: the packaged weights' hash
    onnx_max_abs_diff: float | None = None  # ... and its ONNX graph's parity with torch

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Backbone:
        values = {f.name: data[f.name] for f in dataclasses.fields(cls) if f.name in data}
        if "input_size" in values:
            values["input_size"] = tuple(values["input_size"])
        return cls(**values)

    def to_json(self) -> dict[str, Any]:
        out = {k: v for k, v in dataclasses.asdict(self).items() if v is not None}
        if self.input_size is not None:
            out["input_size"] = list(self.input_size)
        return out


@dataclass(frozen=True)
class Backbones:
    poster: Backbone
    overview: Backbone
    in_version: str | None = None  # fully finetuned: the version's own subfolder of graphs

    def __post_init__(self) -> None:
        if self.poster.input_size is None:
            raise ValueError("the poster backbone has no input_size")
        if self.overview.max_tokens is None:
            raise ValueError("the overview backbone has no max_tokens")

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Backbones:
        return cls(
            Backbone.from_json(data["poster"]),
            Backbone.from_json(data["overview"]),
            data.get("in_version"),
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"poster": self.poster.to_json(), "overview": self.overview.to_json()}
        if self.in_version:
            out["in_version"] = self.in_version
        return out

    @property
    def poster_size(self) -> tuple[int, int]:
        """(width, height) of the poster backbone's input (checked present on construction)."""
        return self.poster.input_size  # type: ignore[return-value]

    @property
    def max_tokens(self) -> int:
        """The overview backbone's token limit (checked present on construction)."""
        return self.overview.max_tokens  # type: ignore[return-value]


@dataclass(frozen=True)
class DataSource:
    """What a version was trained on: the Kaggle-format folder and its split sizes."""

    source: str | None = None
    fingerprint: str | None = None
    n_train: int | None = None
    n_val: int | None = None
    n_test: int | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DataSource:
        return cls(**{f.name: data.get(f.name) for f in dataclasses.fields(cls)})

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}


@dataclass(frozen=True)
class BaselineInputs:
    poster_size: tuple[int, int]  # (width, height)
    max_len: int  # tokens of the cleaned overview


@dataclass(frozen=True)
class AffectSpec:
    """An affect version's network config and the clip features it was trained on."""

    config: Mapping[str, Any]
    feature_names: tuple[str, ...]
    segment_s: float
    frames_per_segment: int


# model.json keys the card reads into fields (the rest is kept verbatim in `notes`).
_FIELDS = (
    "name", "created_at", "kind", "config", "config_json", "description", "parent", "genres",
    "temperature", "thresholds", "untuned_genres", "retuned_genres", "metrics",
    "active_metrics", "flagged", "head", "training", "backbones", "data", "inputs", "affect",
    "feature_names", "segment_s", "frames_per_segment", "finetune", "history", "export",
)  # fmt: skip


@dataclass(frozen=True)
class VersionCard:
    """A version's model.json, typed. Build one with `read_card` (or `VersionCard.from_json`);
    `to_json` gives back the same file content, unknown sections included."""

    name: str
    kind: ModelKind
    created_at: str | None = None
    description: str = ""
    parent: str | None = None  # the version this one was trained or tuned from
    genres: tuple[str, ...] = ()
    thresholds: Mapping[str, float] = field(default_factory=dict)  # genre → decision threshold
    temperature: float = 1.0  # logits are divided by it before the sigmoid
    untuned_genres: tuple[str, ...] = ()  # too few positives to tune: the 0.5 default
    retuned_genres: tuple[str, ...] | None = None  # finetuned: thresholds moved from the parent
    metrics: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # split → report
    active_metrics: Mapping[str, Any] | None = None  # finetuned: the parent on the same data
    flagged: str | None = None  # finetuned: why it looks worse than its parent
    config: str | None = None  # the named training config
    config_json: Mapping[str, Any] | None = None  # ... and its content
    head: Mapping[str, Any] | None = None  # head versions: the fusion head's config
    training: Mapping[str, Any] = field(default_factory=dict)  # optimisation settings
    backbones: Backbones | None = None  # head versions
    data: DataSource | None = None
    inputs: BaselineInputs | None = None  # baseline versions
    affect: AffectSpec | None = None  # affect versions
    finetune: Mapping[str, Any] | None = None  # finetuned: mode, job, corrections, timings
    history: tuple[Mapping[str, Any], ...] = ()  # one record per training epoch
    export: Mapping[str, Any] | None = None  # the exported graphs' parity with torch
    notes: Mapping[str, Any] = field(default_factory=dict)  # sections no code reads

    @classmethod
    def from_json(cls, data: Mapping[str, Any], where: str = MODEL_JSON) -> VersionCard:
        """The card of a model.json's content; `MmguiError` naming `where` if it is not one."""
        try:
            return cls._parse(data)
        except (KeyError, TypeError, ValueError) as err:
            raise MmguiError(f"{where} is not a valid model card: {_reason(err)}") from err

    @classmethod
    def _parse(cls, data: Mapping[str, Any]) -> VersionCard:
        kind = ModelKind(data["kind"])
        affect = None
        if kind is ModelKind.AFFECT:
            affect = AffectSpec(
                dict(data["affect"]),
                tuple(data["feature_names"]),
                float(data["segment_s"]),
                int(data["frames_per_segment"]),
            )
        else:
            missing = [g for g in data["genres"] if g not in data["thresholds"]]
            if missing:
                raise ValueError(f"no threshold for {', '.join(missing)}")
        inputs = None
        if kind is ModelKind.BASELINE:
            size = data["inputs"]["poster_size"]
            inputs = BaselineInputs((int(size[0]), int(size[1])), int(data["inputs"]["max_len"]))
        retuned = data.get("retuned_genres")
        return cls(
            name=data["name"],
            kind=kind,
            created_at=data.get("created_at"),
            description=data.get("description", ""),
            parent=data.get("parent"),
            genres=tuple(data.get("genres", ())),
            thresholds={g: float(t) for g, t in data.get("thresholds", {}).items()},
            temperature=1.0 if kind is ModelKind.AFFECT else float(data["temperature"]),
            untuned_genres=tuple(data.get("untuned_genres", ())),
            retuned_genres=None if retuned is None else tuple(retuned),
            metrics=data.get("metrics", {}),
            active_metrics=data.get("active_metrics"),
            flagged=data.get("flagged"),
            config=data.get("config"),
            config_json=data.get("config_json"),
            head=data.get("head"),
            training=data.get("training", {}),
            backbones=Backbones.from_json(data["backbones"]) if "backbones" in data else None,
            data=DataSource.from_json(data["data"]) if "data" in data else None,
            inputs=inputs,
            affect=affect,
            finetune=data.get("finetune"),
            history=tuple(data.get("history", ())),
            export=data.get("export"),
            notes={k: v for k, v in data.items() if k not in _FIELDS and k != "format_version"},
        )

    def to_json(self) -> dict[str, Any]:
        """model.json's content (keys in the order the file has always had)."""
        out: dict[str, Any] = {"format_version": FORMAT_VERSION, "name": self.name}
        optional = {
            "created_at": self.created_at,
            "kind": self.kind.value,
            "config": self.config,
            "config_json": self.config_json,
            "description": self.description,
            "parent": self.parent,
        }
        out |= {k: v for k, v in optional.items() if v is not None or k == "parent"}
        if self.affect is None:
            out |= {
                "genres": list(self.genres),
                "temperature": self.temperature,
                "thresholds": dict(self.thresholds),
                "untuned_genres": list(self.untuned_genres),
            }
        else:
            out |= {
                "affect": dict(self.affect.config),
                "feature_names": list(self.affect.feature_names),
                "segment_s": self.affect.segment_s,
                "frames_per_segment": self.affect.frames_per_segment,
            }
        if self.retuned_genres is not None:
            out["retuned_genres"] = list(self.retuned_genres)
        out["metrics"] = dict(self.metrics)
        later = {
            "active_metrics": self.active_metrics,
            "flagged": self.flagged,
            "head": self.head,
            "training": dict(self.training) if self.training else None,
            "backbones": self.backbones.to_json() if self.backbones else None,
            "inputs": _inputs_json(self.inputs),
            "data": self.data.to_json() if self.data else None,
            "finetune": self.finetune,
            "history": list(self.history) if self.history else None,
            "export": self.export,
        }
        kept_empty = {"flagged"} if self.finetune else set()  # a finetuned card says "not flagged"
        out |= {k: v for k, v in later.items() if v is not None or k in kept_empty}
        return out | dict(self.notes)

    @property
    def eval_metrics(self) -> Mapping[str, Any]:
        """The metrics the version was chosen on: a finetuned version's `eval` (corrections +
        the original validation split), else its validation split."""
        return self.metrics.get("eval") or self.metrics.get("val") or {}

    @property
    def test_metrics(self) -> Mapping[str, Any]:
        return self.metrics.get("test") or {}


def _inputs_json(inputs: BaselineInputs | None) -> dict[str, Any] | None:
    if inputs is None:
        return None
    return {"poster_size": list(inputs.poster_size), "max_len": inputs.max_len}


def _reason(err: Exception) -> str:
    if isinstance(err, KeyError):
        return f"{err.args[0]!r} is missing"
    return str(err)


def read_card(version: Path) -> VersionCard:
    """The card of a version folder, or `MmguiError` saying what is wrong."""
    path = Path(version) / MODEL_JSON
    if not path.exists():
        raise MmguiError(f"{version} is not a model version: {MODEL_JSON} is missing")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise MmguiError(f"{path} is not valid JSON: {err}") from err
    if not isinstance(data, dict):
        raise MmguiError(f"{path} is not a model card: not a JSON object")
    if data.get("format_version") != FORMAT_VERSION:
        raise MmguiError(f"{path}: unsupported format_version {data.get('format_version')!r}")
    return VersionCard.from_json(data, str(path))


def write_version(
    target: Path, write_files: Callable[[Path], Mapping[str, Any]], overwrite: bool = False
) -> Path:
    """Create the version folder `target` atomically.

    `write_files(folder)` writes the version's files into `folder` and returns the card's
    content (model.json without `name`, `created_at` and `format_version`, added here). It is
    checked as a `VersionCard` before the folder is renamed into place. An existing `target`
    is only replaced when `overwrite` is set (the old folder is removed after the swap).
    """
    target = Path(target)
    if target.exists() and not overwrite:
        raise MmguiError(f"{target} already exists; choose another --out or pass --overwrite")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        content = {
            "name": target.name,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            **write_files(staging),
        }
        card = VersionCard.from_json(content, f"the card written for {target.name}")
        (staging / MODEL_JSON).write_text(json.dumps(card.to_json(), indent=2) + "\n")
        _make_readable(staging)
        if target.exists():
            retired = target.with_name(f".{target.name}.old")
            shutil.rmtree(retired, ignore_errors=True)
            os.replace(target, retired)
            os.replace(staging, target)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _make_readable(folder: Path) -> None:
    """Folders 0755 and files 0644 all the way down (mkdtemp makes the top one 0700), so a
    studio or worker running as another user can read every part of the version."""
    os.chmod(folder, 0o755)
    for root, dirs, files in os.walk(folder):
        for name in dirs:
            os.chmod(os.path.join(root, name), 0o755)
        for name in files:
            os.chmod(os.path.join(root, name), 0o644)


def onnx_session(path: Path, threads: int = 0) -> ort.InferenceSession:
    """A CPU ONNX Runtime session for one graph of a version; `threads=0` lets ORT choose."""
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
