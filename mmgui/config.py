"""One settings object for the whole project.

Every number that matters (size caps, token limits, image size) has its home here. Values
come from the defaults below, overridden by `MMGUI_<FIELD>` environment variables, overridden
by explicit keyword arguments (what command-line flags pass).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field, fields
from pathlib import Path

from mmgui.errors import MmguiError

# The folder holding the mmgui package: the checkout (run in place or installed with
# `pip install -e .`), or site-packages for an installed wheel.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Where a wheel carries the checkout's top-level models/ and assets/ (pyproject.toml maps them).
SHIPPED_IN_PACKAGE = Path(__file__).resolve().parent / "_shipped"
SHIPPED_FOLDERS = ("models", "assets")


def shipped_path(name: str) -> Path:
    """The shipped `models` (the default version) or `assets` (demo posters, the demo clip,
    examples.json) folder: the copy inside an installed package, else the checkout's top-level
    folder. The one place these are resolved; raises `MmguiError` when neither exists."""
    if name not in SHIPPED_FOLDERS:
        raise ValueError(f"{name!r} is not a shipped folder ({', '.join(SHIPPED_FOLDERS)})")
    for folder in (SHIPPED_IN_PACKAGE / name, PROJECT_ROOT / name):
        if folder.is_dir():
            return folder
    raise MmguiError(
        f"the shipped {name}/ folder is missing (looked in {SHIPPED_IN_PACKAGE} and "
        f"{PROJECT_ROOT}): reinstall mmgui, or run it from a checkout"
    )


def child_pythonpath() -> str:
    """PYTHONPATH for a child `python -m mmgui ...` (the worker, torchrun's ranks): the folder
    holding this mmgui first, so the child imports the same code wherever it starts, then the
    caller's own PYTHONPATH."""
    return os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")]))


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mmgui"


@dataclass(frozen=True)
class Settings:
    """Project settings; build with `Settings.load(**overrides)`."""

    # The folder of model versions (new ones are written there); default: the shipped one.
    models_dir: Path = field(default_factory=lambda: shipped_path("models"))
    default_model: str = "default"
    cache_dir: Path = field(default_factory=_default_cache_dir)
    db_url: str = "sqlite:///mmgui.db"  # the review queue's database (any SQLAlchemy URL)
    media_dir: Path = Path("mmgui-media")  # imported posters and clips, stored by content hash
    auth_file: str = ""  # users.json for logins; empty: a single local user, no login
    # Logins: after this many failed attempts within the window, a username or a client
    # address is refused (without hashing) until the oldest failure leaves the window.
    login_max_failures: int = 5
    login_window_s: float = 300.0
    login_hash_threads: int = 1  # passwords hashed at once (PBKDF2 takes ~0.3 s of a core)
    host: str = "127.0.0.1"
    port: int = 7860
    device: str = "auto"  # auto | cpu | cuda
    # Images: refuse anything above this many pixels before decoding (decompression bombs).
    max_image_pixels: int = 40_000_000
    # ... and above this many bytes once decoded (pixels × channels × bytes per channel, from
    # the header): as much as an 8-bit RGB image at the pixel limit, so wider modes (RGBA,
    # 32-bit grey) must be smaller.
    max_image_bytes: int = 120_000_000
    max_upload_mb: float = 50.0
    # Text: overviews longer than this are truncated (with a notice).
    max_overview_chars: int = 5_000
    # Explanations: Grad-CAM maps for at most this many predicted genres (plus picked ones).
    cam_genres: int = 3
    # Review queue: the next item's maps start once the editor has stayed this long on an item
    # (flying through the queue queues no maps for items already left behind).
    cam_prefetch_settle_s: float = 0.4
    # Word weights score at most this many words, the overview's first: each costs one pass
    # of the text encoder over them, so this bounds an explanation's time (40: a few tenths
    # of a second on 2 cores; 150 took several seconds).
    explain_max_words: int = 40
    threads: int = 0  # 0: let torch / onnxruntime decide
    # Review queue: items per queue page, items per prediction batch at import.
    queue_page_size: int = 50
    import_batch_size: int = 64
    max_comment_chars: int = 2_000  # an editor's comment on a decision
    # Admin imports by server path read only inside these folders (besides the media folder
    # and the shipped assets/); MMGUI_IMPORT_ROOTS separates them with os.pathsep.
    import_roots: tuple[Path, ...] = ()
    # Media files no item references, and unfinished copies (.part), older than this are
    # swept; younger ones may belong to an import running in another process.
    media_sweep_grace_s: float = 3600.0
    # A catalogue uploaded as a zip (with its posters): limits on what it may unpack to.
    max_archive_mb: float = 2_000.0  # uncompressed, all entries together
    max_archive_entries: int = 100_000
    export_keep: int = 8  # exports from the Review tab kept for download; older ones deleted
    # Finetuning: queue a job automatically every N new corrections (0: only "Train now").
    auto_train_every: int = 0
    # The original training data (Kaggle-format folder) for replay and validation; empty: the
    # folder the active version was trained on (its model.json "data"."source").
    replay_data: str = ""
    worker_poll_seconds: float = 2.0
    worker_stale_seconds: float = 120.0  # a running job without a heartbeat this long failed
    # Clips: decoded at a reduced rate and size, cut into segments for the emotion line.
    clip_segment_s: float = 2.0
    clip_max_duration_s: float = 600.0  # longer clips are refused before decoding
    clip_max_pixels: int = 4096 * 2160  # larger frames (above 4K) are refused
    clip_max_side: int = 160  # frames for the emotion line: longer side scaled to this
    clip_keyframe_side: int = 320  # one keyframe per segment, for genres and Grad-CAM
    clip_frames_per_segment: int = 6  # sampled frames per segment (motion, cuts, colour)
    clip_max_keyframes: int = 16  # at most this many keyframes through the poster backbone
    clip_cam_keyframes: int = 4  # keyframes shown with Grad-CAM in the Clip tab
    clip_attention_temperature: float = 0.02  # softmax temperature of the keyframe attention
    clip_audio_rate: int = 16_000  # the audio track, mono, resampled to this many Hz
    clip_smoothing_s: float = 8.0  # width of the Kaiser window smoothing the emotion line
    affect_model: str = ""  # an affect version folder (train-affect); empty: training-free

    @classmethod
    def load(cls, **overrides: object) -> Settings:
        """Defaults, then `MMGUI_*` environment variables, then `overrides` (None ignored)."""
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = os.environ.get(f"MMGUI_{f.name.upper()}")
            if raw is not None:
                values[f.name] = _parse(f.name, f.type, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        unknown = set(values) - {f.name for f in fields(cls)}
        if unknown:
            raise MmguiError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        settings = cls(**values)  # type: ignore[arg-type]
        return dataclasses.replace(
            settings,
            models_dir=Path(settings.models_dir),
            cache_dir=Path(settings.cache_dir),
            media_dir=Path(settings.media_dir),
            import_roots=tuple(Path(p) for p in settings.import_roots),
        )

    @property
    def default_model_dir(self) -> Path:
        return self.models_dir / self.default_model

    @property
    def server_import_roots(self) -> tuple[Path, ...]:
        """The folders an admin may import from by a path on the server."""
        return (*self.import_roots, self.media_dir, shipped_path("assets"))


def _parse(name: str, type_name: object, raw: str) -> object:
    kind = str(type_name)
    try:
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
    except ValueError as err:
        raise MmguiError(f"MMGUI_{name.upper()}={raw!r} is not a number") from err
    if kind == "Path":
        return Path(raw)
    if kind == "tuple[Path, ...]":
        return tuple(Path(p) for p in raw.split(os.pathsep) if p)
    return raw
