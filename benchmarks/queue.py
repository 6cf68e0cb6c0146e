"""The review queue at catalogue scale, on SQLite and on PostgreSQL.

    python benchmarks/queue.py [--items 50000] [--pg postgresql+psycopg://user:pw@host/postgres]

For each database: import `--items` synthetic catalogue rows (a CSV whose rows cycle through
the fixture movies' titles, overviews and posters under distinct ids) through the real import
path (CSV reading, poster checks, upsert, predictions by the active model, queue scores), then
time a queue page (next 50 by uncertainty, and the other views), saving a decision, and
exporting every row as CSV, JSON and Label Studio JSON. `--pg` (or MMGUI_TEST_PG_URL) names
a server whose user may create databases; a scratch database is made and dropped. Prints one
JSON object; goals: page ≤ 300 ms, save ≤ 50 ms, export of 50,000 rows ≤ 10 s.
"""

from __future__ import annotations

import sys
from pathlib import Path

# This file is named like the standard library's `queue`: run as a script, its folder would
# shadow it, so the repository root takes the folder's place on the path.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

import argparse
import csv
import json
import os
import statistics
import tempfile
import time

from benchmarks.corrections import poster_inside
from benchmarks.machine import machine
from mmgui.config import PROJECT_ROOT, Settings
from mmgui.data.export import write_export
from mmgui.data.kaggle import read_kaggle
from mmgui.serve.review import ReviewService
from mmgui.serve.studio import Studio
from mmgui.store.catalogue import export_records
from mmgui.store.db import scratch_postgres

FIXTURE = PROJECT_ROOT / "tests" / "fixtures" / "kaggle"


def synthetic_csv(path: Path, n_items: int) -> None:
    movies = [m for m in read_kaggle(FIXTURE).records if m.poster is not None]
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "title", "overview", "poster", "genres"])
        posters = {m.poster: poster_inside(m.poster, path.parent) for m in movies}
        for i in range(n_items):
            movie = movies[i % len(movies)]
            genres = "|".join(movie.genres)
            writer.writerow(
                [f"syn-{i:06d}", movie.title, movie.overview, posters[movie.poster], genres]
            )


def ms(seconds: list[float]) -> dict:
    values = sorted(s * 1000 for s in seconds)
    return {
        "p50_ms": round(statistics.median(values), 2),
        "p95_ms": round(values[int(0.95 * (len(values) - 1))], 2),
    }


def timed(fn, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def run(db_url: str, source: Path, settings: Settings, work: Path) -> dict:
    settings = Settings.load(**{**vars(settings), "db_url": db_url, "media_dir": work / "media"})
    review = ReviewService.open(Studio(settings))
    store = review.store
    start = time.perf_counter()
    summary = review.catalogue.import_catalogue(source)
    import_s = time.perf_counter() - start
    start = time.perf_counter()
    again = review.catalogue.import_catalogue(source)
    reimport_s = time.perf_counter() - start
    assert again.new == 0 and again.unchanged == summary.new

    result: dict = {
        "items": store.count("all"),
        "import_s": round(import_s, 1),
        "reimport_unchanged_s": round(reimport_s, 1),
    }
    for view in ("uncertain", "mislabelled", "newest"):
        result[f"page_{view}"] = ms(timed(lambda v=view: store.queue(v, limit=50), 30))
    result["page_genre_filter"] = ms(timed(lambda: store.queue(genre="Horror", limit=50), 30))
    result["count"] = ms(timed(lambda: store.count(), 30))

    entries = store.queue("uncertain", limit=100)
    saves = []
    for entry in entries:
        item = store.item(entry.id)
        begin = time.perf_counter()
        store.decide(item.id, "bench", ["Drama"], item.version)
        saves.append(time.perf_counter() - begin)
    result["save_decision"] = ms(saves)

    for fmt in ("csv", "json", "labelstudio"):
        out = work / f"export.{fmt}"
        begin = time.perf_counter()
        count = write_export(export_records(store), fmt, out)
        result[f"export_{fmt}_s"] = round(time.perf_counter() - begin, 2)
        assert count == result["items"]
    store.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=50_000)
    parser.add_argument("--pg", default=os.environ.get("MMGUI_TEST_PG_URL"))
    args = parser.parse_args()
    settings = Settings.load()
    report: dict = {"benchmark": "queue", "n_items": args.items, "model": settings.default_model}
    with tempfile.TemporaryDirectory(prefix="mmgui-queue-") as tmp:
        work = Path(tmp)
        source = work / "catalogue.csv"
        synthetic_csv(source, args.items)
        report["sqlite"] = run(f"sqlite:///{work / 'queue.db'}", source, settings, work / "sq")
        if args.pg:
            with scratch_postgres(args.pg, prefix="mmgui_bench") as url:
                report["postgresql"] = run(url, source, settings, work / "pg")
        else:
            report["postgresql"] = "not run: give --pg or MMGUI_TEST_PG_URL"
    report["machine"] = machine()
    print(json.dumps(report))


if __name__ == "__main__":
    main()
