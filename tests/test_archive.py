"""Catalogues uploaded as a zip: extracted only inside their folder, within the limits."""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path

import pytest

from mmgui.data.archive import extract_catalogue
from mmgui.data.catalogue import poster_not_found, read_catalogue
from mmgui.errors import MmguiError

from .conftest import KAGGLE_FIXTURE

POSTER = sorted((KAGGLE_FIXTURE / "posters").glob("*.jpg"))[0]
LIMITS = {"max_entries": 100, "max_bytes": 10_000_000}


def make_zip(path: Path, entries: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, data in entries.items():
            bundle.writestr(name, data)
    return path


def test_a_csv_with_its_posters(tmp_path: Path) -> None:
    csv = b"id,title,poster\nm1,Alpha,posters/a.jpg\nm2,Beta,/etc/hostname\n"
    archive = make_zip(
        tmp_path / "cat.zip", {"films/cat.csv": csv, "films/posters/a.jpg": POSTER.read_bytes()}
    )
    folder = tmp_path / "out"
    folder.mkdir()
    source = extract_catalogue(archive, folder, **LIMITS)
    assert source == folder / "films" / "cat.csv"
    report = read_catalogue(source)
    assert [r.external_id for r in report.rows] == ["m1"]
    assert [b.reason for b in report.bad] == [poster_not_found("/etc/hostname")]


def test_a_kaggle_folder_is_found_inside(tmp_path: Path) -> None:
    entries = {f"movies/{p.relative_to(KAGGLE_FIXTURE)}": p.read_bytes()
               for p in KAGGLE_FIXTURE.rglob("*") if p.is_file()}  # fmt: skip
    folder = tmp_path / "out"
    folder.mkdir()
    source = extract_catalogue(make_zip(tmp_path / "k.zip", entries), folder, **LIMITS)
    assert source == folder / "movies" and len(read_catalogue(source).rows) == 16


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("../evil.csv", "points outside the archive"),
        ("/tmp/evil.csv", "points outside the archive"),
        ("a/../../evil.csv", "points outside the archive"),
        ("C:/evil.csv", "points outside the archive"),
    ],
)
def test_zip_slip_is_refused_before_anything_is_written(
    tmp_path: Path, name: str, message: str
) -> None:
    archive = make_zip(tmp_path / "slip.zip", {"ok.csv": b"title\nA\n", name: b"title\nB\n"})
    folder = tmp_path / "deep" / "out"
    folder.mkdir(parents=True)
    with pytest.raises(MmguiError, match=message):
        extract_catalogue(archive, folder, **LIMITS)
    assert not any(folder.iterdir()) and not (tmp_path / "deep" / "evil.csv").exists()


def test_links_and_limits_are_refused(tmp_path: Path) -> None:
    link = zipfile.ZipInfo("poster.jpg")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    with zipfile.ZipFile(tmp_path / "link.zip", "w") as bundle:
        bundle.writestr("cat.csv", "title,poster\nA,poster.jpg\n")
        bundle.writestr(link, "/etc/passwd")
    folder = tmp_path / "out"
    folder.mkdir()
    with pytest.raises(MmguiError, match="is a link or special file"):
        extract_catalogue(tmp_path / "link.zip", folder, **LIMITS)
    many = make_zip(tmp_path / "many.zip", {f"p{i}.jpg": b"x" for i in range(5)})
    with pytest.raises(MmguiError, match="5 entries, above the limit of 4"):
        extract_catalogue(many, folder, max_entries=4, max_bytes=10**6)
    bomb = make_zip(tmp_path / "bomb.zip", {"cat.csv": b"0" * 3_000_000})
    assert bomb.stat().st_size < 100_000
    with pytest.raises(MmguiError, match="3 MB uncompressed, above the 2 MB limit"):
        extract_catalogue(bomb, folder, max_entries=10, max_bytes=2_000_000)
    (tmp_path / "fake.zip").write_bytes(b"not a zip")
    with pytest.raises(MmguiError, match=r"fake\.zip: not a readable zip archive"):
        extract_catalogue(tmp_path / "fake.zip", folder, **LIMITS)
    assert not any(folder.iterdir())
