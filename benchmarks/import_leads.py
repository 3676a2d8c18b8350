"""CSV import rate (rows/s) and peak memory against a raw ``executemany`` of the same leads.

    .venv/bin/python benchmarks/import_leads.py [--rows 1000000] [--seed 1] [--batch N]

Generates a CSV of `rows` leads in a temporary directory (names, e-mail, company and web
site, country, title, phone, created date, source, two custom attributes; a tenth of the
e-mails at free-mail providers), migrates a fresh SQLite database, and runs
``leadloop import leads FILE --mapping M`` in a subprocess: the whole pipeline (stream, parse,
validate, dedupe, resolve companies, create leads and their lifecycle entry, commit per
batch). Its wall time gives the rate; its ``ru_maxrss`` the peak memory. The floor: the
leads it wrote are read back, deleted, and inserted again with one ``executemany`` into the
same ``leads_lead`` table with the same indexes, in one transaction. Prints the details, then
the harness's JSON line (ratio goal ≥ 0.25; peak memory must stay ≤ 300 MB). ``--batch``
passes rows per transaction to the command (default: the command's own default).
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import machine, report, stopwatch

GOAL = 0.25
PEAK_MB = 300
MAPPING = """
[source]
delimiter = ","
encoding = "utf-8"
date_format = "%Y-%m-%d"

[fields]
email = "Email"
first_name = "First Name"
last_name = "Last Name"
company = "Company"
domain = "Website"
country = "Country"
title = "Job Title"
phone = "Phone"
created_at = "Created"
source = "Source"

[attributes]
employees = { column = "Employees", type = "number" }
industry = { column = "Industry", type = "category" }
"""
_FIRST = ("Anna", "Ben", "Chloé", "David", "Eva", "Femi", "Grace", "Hiro", "Ines", "Jonas")
_LAST = ("Müller", "Smith", "García", "Rossi", "Nowak", "Okafor", "Tanaka", "Dubois", "Berg")
_TITLES = ("CEO", "CTO", "Head of Marketing", "Sales Manager", "Engineer", "Analyst", "")
_COUNTRIES = ("DE", "US", "FR", "GB", "ES", "IT", "NL", "PL", "")
_SOURCES = ("organic_search", "paid_search", "social", "email", "referral", "direct")
_INDUSTRIES = ("Software", "Retail", "Finance", "Health", "Education", "Logistics")
_FREE = ("gmail.com", "yahoo.com", "outlook.com", "web.de")


def generate(path: Path, rows: int, seed: int) -> None:
    """Write `rows` leads, about 20 per company domain, a tenth at free-mail providers."""
    rnd = random.Random(seed)
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(
            [
                *("Email", "First Name", "Last Name", "Company", "Website", "Country"),
                *("Job Title", "Phone", "Created", "Source", "Employees", "Industry"),
            ]
        )
        for i in range(rows):
            first, last = rnd.choice(_FIRST), rnd.choice(_LAST)
            company = i // 20
            domain = rnd.choice(_FREE) if rnd.random() < 0.1 else f"company{company}.example"
            writer.writerow(
                [
                    f"lead.{i}@{domain}",
                    first,
                    last,
                    f"Company {company}",
                    f"https://www.{domain}/" if not domain.endswith(_FREE) else "",
                    rnd.choice(_COUNTRIES),
                    rnd.choice(_TITLES),
                    f"+49 30 {rnd.randrange(10**6, 10**7)}",
                    f"20{rnd.randrange(18, 25)}-{rnd.randrange(1, 13):02}-{rnd.randrange(1, 29):02}",
                    rnd.choice(_SOURCES),
                    rnd.randrange(1, 5000),
                    rnd.choice(_INDUSTRIES),
                ]
            )


def _environment(data_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL="",
        LEADLOOP_DATA_DIR=str(data_dir),
        DJANGO_SETTINGS_MODULE="leadloop.settings",
        DEBUG="false",  # no SQL logging in the measured process
        SECRET_KEY="benchmark-only-" + "x" * 50,
        ALLOWED_HOSTS="localhost",
    )
    return env


def _floor(data_dir: Path) -> tuple[float, int]:
    """Seconds to insert the imported leads again with one raw executemany; and how many."""
    os.environ.update(_environment(data_dir))
    import django

    django.setup()
    from django.db import connection, transaction

    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM leads_lead")
        columns = [c[0] for c in cursor.description]
        rows = cursor.fetchall()
        # Stage changes point at the leads; they go first, as a cascade would take them.
        cursor.execute("DELETE FROM lifecycle_stagechange")
        cursor.execute("DELETE FROM leads_lead")
    sql = (
        f"INSERT INTO leads_lead ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})"
    )
    with stopwatch() as t, transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(sql, rows)
    return t.seconds, len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--batch", type=int, help="rows per transaction (the command's --batch)")
    args = parser.parse_args()
    root = Path(__file__).resolve().parents[1]
    work = Path(tempfile.mkdtemp(prefix="leadloop-import-bench-"))
    csv_path, mapping_path = work / "leads.csv", work / "mapping.toml"
    mapping_path.write_text(MAPPING, encoding="utf-8")
    with stopwatch() as gen:
        generate(csv_path, args.rows, args.seed)
    env = _environment(work)
    manage = [sys.executable, str(root / "src" / "leadloop" / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], env=env, check=True)
    command = [*manage, "import", "leads", str(csv_path), "--mapping", str(mapping_path)]
    if args.batch:
        command += ["--batch", str(args.batch)]
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    if done.returncode != 0:
        sys.exit(f"import failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    floor_seconds, floor_rows = _floor(work)
    details: dict[str, Any] = {
        "machine": machine(),
        "rows": args.rows,
        "batch": args.batch or "command default",
        "csv_mb": round(csv_path.stat().st_size / 2**20, 1),
        "generate_s": round(gen.seconds, 1),
        "import_s": round(seconds, 1),
        "import": done.stdout.strip().splitlines()[-1],
        "peak_mb": round(peak_mb),
        "peak_ok": peak_mb <= PEAK_MB,
        "floor_s": round(floor_seconds, 2),
        "floor_rows": floor_rows,
    }
    for key, value in details.items():
        print(f"{key}: {value}")
    report(
        benchmark="import_leads",
        value=args.rows / seconds,
        unit="rows/s",
        floor=floor_rows / floor_seconds,
        better="higher",
        goal=GOAL,
    )
    for path in work.iterdir():
        path.unlink()
    work.rmdir()


if __name__ == "__main__":
    main()
