"""A catalogue uploaded as a zip: a CSV or JSON with its posters, or a Kaggle-format folder.

Every entry is checked before anything is written: no absolute names or `..`, no links or
special files, no encrypted entries, at most `max_entries` entries and `max_bytes`
uncompressed in all, by the sizes the archive declares (`zipfile` stops an entry at its
declared size and fails its CRC check if the data holds more, so a bomb cannot lie its way
past). The caller's folder (a temporary one) becomes the catalogue's folder, so the import's
poster confinement keeps it inside the archive.
"""

from __future__ import annotations

import shutil
import stat
import zipfile
from pathlib import Path, PurePosixPath

from mmgui.errors import MmguiError

CATALOGUE_SUFFIXES = (".csv", ".json")
KAGGLE_MARKER = "movies_metadata.csv"
SKIPPED_PREFIXES = ("__MACOSX/",)  # resource forks macOS adds to its zips


def extract_catalogue(archive: Path, into: Path, max_entries: int, max_bytes: int) -> Path:
    """Extract `archive` into the folder `into`; returns the catalogue inside it: the
    shallowest folder holding movies_metadata.csv, else the one shallowest CSV or JSON file."""
    archive = Path(archive)
    try:
        with zipfile.ZipFile(archive) as bundle:
            entries = _checked_entries(bundle, archive.name, max_entries, max_bytes)
            for info, relative in entries:
                _extract(bundle, info, into / relative)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError) as err:
        raise MmguiError(f"{archive.name}: not a readable zip archive ({err})") from err
    return _catalogue_in(into, archive.name)


def _checked_entries(
    bundle: zipfile.ZipFile, name: str, max_entries: int, max_bytes: int
) -> list[tuple[zipfile.ZipInfo, PurePosixPath]]:
    infos = [i for i in bundle.infolist() if not i.filename.startswith(SKIPPED_PREFIXES)]
    if len(infos) > max_entries:
        raise MmguiError(f"{name}: {len(infos)} entries, above the limit of {max_entries}")
    total = sum(info.file_size for info in infos)
    if total > max_bytes:
        limit = f"{max_bytes / 1e6:.0f} MB"
        raise MmguiError(f"{name}: {total / 1e6:.0f} MB uncompressed, above the {limit} limit")
    return [(info, _entry_path(info, name)) for info in infos if not info.is_dir()]


def _entry_path(info: zipfile.ZipInfo, name: str) -> PurePosixPath:
    """The entry's path inside the archive, or `MmguiError` for one that is not a plain file
    at a plain relative path."""
    text = info.filename.replace("\\", "/")
    path = PurePosixPath(text)
    if not path.parts or path.is_absolute() or ".." in path.parts or ":" in path.parts[0]:
        raise MmguiError(f"{name}: entry {info.filename!r} points outside the archive")
    kind = stat.S_IFMT(info.external_attr >> 16)  # 0: the archiver recorded no type
    if kind and kind != stat.S_IFREG:
        raise MmguiError(f"{name}: entry {info.filename!r} is a link or special file")
    if info.flag_bits & 0x1:
        raise MmguiError(f"{name}: entry {info.filename!r} is encrypted")
    return path


def _extract(bundle: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with bundle.open(info) as source, open(target, "xb") as out:
            shutil.copyfileobj(source, out, 1 << 20)
    except FileExistsError as err:
        raise MmguiError(f"entry {info.filename!r} appears twice in the archive") from err


def _catalogue_in(folder: Path, name: str) -> Path:
    kaggle = sorted(p.parent for p in folder.rglob(KAGGLE_MARKER) if p.is_file())
    if kaggle:
        return min(kaggle, key=lambda p: len(p.relative_to(folder).parts))
    files = [p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in CATALOGUE_SUFFIXES]
    if not files:
        raise MmguiError(f"{name}: no CSV, JSON or Kaggle folder (movies_metadata.csv) inside")
    depth = min(len(p.relative_to(folder).parts) for p in files)
    shallowest = sorted(p for p in files if len(p.relative_to(folder).parts) == depth)
    if len(shallowest) > 1:
        names = ", ".join(p.name for p in shallowest[:5])
        raise MmguiError(f"{name}: several catalogues inside ({names}); zip one at a time")
    return shallowest[0]
