"""Benchmark of the field's work, each figure beside its baseline from the same run.

1. A 4000×3000 phone photo (JPEG with EXIF and GPS, ~4 MB) uploaded to POST /photos and
   stored: p50 and p99 of the whole request, against Pillow opening, decoding and resizing the
   same photo to 1600 px alone (no HTTP, no database, no re-encoding).
2. 200 deeds sent in one POST /deeds/batch, against the same 200 deeds as 200 single POSTs
   with their Idempotency-Keys; then the batch resent (nothing new is written).
3. The phone app's first load in bytes as served (gzip, as a phone asks for it) and plain:
   every file it needs to work, the QR decoder included, before any photo. Target < 200 KB.

It runs the app in-process (Flask's test client) on a fresh migrated database: SQLite in a
temporary folder, or the PostgreSQL database named by --database-url (it must be empty).

    .venv/bin/python bench/field.py [--uploads 40] [--database-url postgresql://...]
"""
from __future__ import annotations

import argparse
import io
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path[:] = [str(ROOT)] + [p for p in sys.path if p and Path(p).resolve() not in (ROOT, BENCH_DIR)]

RULES = """\
bank:
  account_unit: person
rules:
  - code: cleanup
    name: 环境整治
    category: 环境卫生
    points: 3
    unit: 次
"""
APP_FILES = ("", "app.js", "app.css", "jsQR.js", "manifest.webmanifest", "icon.svg", "sw.js")


def phone_photo() -> bytes:
    """A 4000×3000 JPEG with a phone's EXIF (model, GPS): gradients and noise, so it compresses like a photo."""
    from PIL import Image

    rng = random.Random(4000)
    small = Image.new("RGB", (400, 300))
    small.putdata([(x * 255 // 400, y * 255 // 300, rng.randrange(256)) for y in range(300) for x in range(400)])
    image = small.resize((4000, 3000), Image.Resampling.BICUBIC)
    noise = Image.effect_noise((4000, 3000), 40).convert("RGB")
    image = Image.blend(image, noise, 0.25)
    exif = Image.Exif()
    exif[0x0110] = "VillagePhone 9"
    exif[0x8825] = {1: "N", 2: (28.0, 30.0, 0.0), 3: "E", 4: (115.0, 20.0, 0.0)}
    out = io.BytesIO()
    image.save(out, "JPEG", quality=92, exif=exif.tobytes())
    return out.getvalue()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uploads", type=int, default=40, help="photos uploaded (and resized alone)")
    parser.add_argument("--deeds", type=int, default=200, help="deeds in the batch (at most 200)")
    parser.add_argument("--database-url", help="an empty PostgreSQL database instead of SQLite")
    args = parser.parse_args()

    import migrations
    from PIL import Image

    from ground.clock import Clock
    from web.auth import create_token, create_user
    from zongzhi.app import create_app

    folder = tempfile.mkdtemp(prefix="zongzhi-bench-field-")
    url = args.database_url or f"sqlite:///{folder}/bench.db"
    migrations.upgrade(url)
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "TESTING": True})
    clock = Clock()
    with app.app_context():
        from ledger import banks, people as ledger_people

        session = app.extensions["zongzhi.sessions"]()
        bank = banks.create_bank(session, "bench", "测试村", rules_text=RULES, source_name="bench.yaml",
                                 by="bench", clock=clock)
        home = ledger_people.create_household(session, bank, code="H001", name=None, clock=clock)
        people = [ledger_people.create_resident(session, bank, name=f"村民{i}", household=home.code, phone=None,
                                                clock=clock).id for i in range(20)]
        create_user(session, "bench-clerk", bank_code="bench", role="clerk", password="bench-password", clock=clock)
        headers = {"Authorization": f"Bearer {create_token(session, 'bench-clerk', clock=clock)}"}
        session.close()
    client = app.test_client()
    today = clock.today().isoformat()
    print(f"database: {'PostgreSQL' if args.database_url else 'SQLite'} · Python {sys.version.split()[0]}")

    # 1. photos -----------------------------------------------------------------------------------
    photo = phone_photo()
    print(f"\n1. a 4000×3000 phone photo ({len(photo) / 1024 / 1024:.1f} MB JPEG with EXIF/GPS), {args.uploads} times")
    alone, through = [], []
    for _ in range(args.uploads):
        start = time.perf_counter()
        image = Image.open(io.BytesIO(photo))
        image.load()
        image.resize((1600, 1200), Image.Resampling.LANCZOS)
        alone.append(time.perf_counter() - start)
    for _ in range(args.uploads):
        start = time.perf_counter()
        answer = client.post("/api/v1/banks/bench/photos", headers=headers,
                             data={"file": (io.BytesIO(photo), "phone.jpg")}, content_type="multipart/form-data")
        through.append(time.perf_counter() - start)
        assert answer.status_code == 201, answer.get_json()
    stored = client.get(f"/api/v1/banks/bench/photos/{answer.get_json()['id']}", headers=headers).data
    print(f"   baseline: Pillow decode + resize alone  p50 {ms(statistics.median(alone))}  p99 {ms(percentile(alone, 99))}")
    print(f"   POST /photos (checked, shrunk, stripped, stored)  p50 {ms(statistics.median(through))}  "
          f"p99 {ms(percentile(through, 99))}")
    print(f"   kept: {len(stored) / 1024:.0f} KB, {answer.get_json()['width']}×{answer.get_json()['height']}, "
          f"GPS gone: {b'VillagePhone' not in stored}")

    # 2. deeds ------------------------------------------------------------------------------------
    n = min(args.deeds, 200)

    def deed(i: int, tag: str) -> dict:
        return {"rule": "cleanup", "residents": [people[i % len(people)]], "occurred_on": today,
                "memo": f"{tag} {i}"}

    print(f"\n2. {n} deeds")
    start = time.perf_counter()
    for i in range(n):
        answer = client.post("/api/v1/banks/bench/deeds", json=deed(i, "single"),
                             headers={**headers, "Idempotency-Key": f"single-{i}"})
        assert answer.status_code == 201, answer.get_json()
    singles = time.perf_counter() - start
    batch = {"deeds": [{"key": f"batch-{i}", **deed(i, "batch")} for i in range(n)]}
    start = time.perf_counter()
    answer = client.post("/api/v1/banks/bench/deeds/batch", json=batch, headers=headers)
    batched = time.perf_counter() - start
    assert {r["status"] for r in answer.get_json()["results"]} == {201}
    start = time.perf_counter()
    again = client.post("/api/v1/banks/bench/deeds/batch", json=batch, headers=headers)
    resent = time.perf_counter() - start
    assert again.get_json() == answer.get_json()
    print(f"   baseline: {n} single POSTs   {ms(singles)}  ({singles / n * 1000:.2f} ms a deed)")
    print(f"   one POST /deeds/batch    {ms(batched)}  ({batched / n * 1000:.2f} ms a deed)")
    print(f"   the batch resent         {ms(resent)}  (nothing new written)")

    # 3. the phone app ----------------------------------------------------------------------------
    zipped = plain = 0
    for name in APP_FILES:
        zipped += len(client.get(f"/m/{name}", headers={"Accept-Encoding": "gzip"}).data)
        plain += len(client.get(f"/m/{name}").data)
    print(f"\n3. the phone app's first load ({len(APP_FILES)} files, QR decoder included)")
    print(f"   as served (gzip): {zipped / 1024:6.1f} KB   plain: {plain / 1024:6.1f} KB   target: < 200 KB")


if __name__ == "__main__":
    main()
