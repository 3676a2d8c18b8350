"""What the import tests share: where the real datasets and the mappings are, and a runner."""

from __future__ import annotations

from pathlib import Path

from leadloop.capture.imports.mapping import mapping_load, mapping_parse
from leadloop.capture.models import ImportJob
from leadloop.loop.imports import import_run, import_start
from tests.conftest import unavailable

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
MAPPINGS = Path(__file__).resolve().parent / "mappings"


def dataset(relative: str) -> Path:
    """A file of the shared real datasets; skipped when absent (a failure in CI)."""
    path = DATA / relative
    if not path.is_file():
        unavailable(f"the real dataset {relative} is not at {DATA.resolve()}")
    return path


def run_import(
    path: Path,
    mapping: str,
    *,
    toml: str | None = None,
    update_only: bool = False,
    dry_run: bool = False,
    batch_rows: int = 1000,
) -> ImportJob:
    """Import `path` with a mapping (a file in tests/capture/mappings, a preset, or `toml`)."""
    if toml is not None:
        loaded = mapping_parse(toml, name=mapping)
    elif (MAPPINGS / f"{mapping}.toml").is_file():
        loaded = mapping_load(str(MAPPINGS / f"{mapping}.toml"))
    else:
        loaded = mapping_load(mapping)
    job = import_start(path=path, mapping=loaded, update_only=update_only, dry_run=dry_run)
    return import_run(job_id=job.pk, batch_rows=batch_rows)
