"""dbt's parsed project kept between builds, in a per-user cache, so a build does not parse the project again.

Parsing the project costs dbt seconds of CPU per build (a fixed cost that dominates small builds and the
report of `s2lake ben report`). dbt's own partial parsing cannot be reused across runs of s2lake: its check
hashes the command-line vars, the profile's connection values and the project's env vars, and those hold the
warehouse's paths (a fresh warehouse, a new report scope file: a full parse every time), and its file lives in
the warehouse's target folder. Here the parsed manifest is kept under a key made of everything parsing reads
(dbt's and the adapters' versions, the project's files, the target, the vars, the ``DBT_*`` and ``S2LAKE_DBT_*``
variables) with each run's own paths (warehouse, dbt's state folder, report scope, stats list) replaced by
placeholders, and it is only kept when the parsed manifest holds none of those paths: a manifest that does
(e.g. the spark target, whose marts' ``location_root`` is the warehouse's) is used for its build and not kept.
What differs per run then only reaches dbt at run time (vars in compiled SQL and hooks, the profile), as for a
manifest dbt reuses itself. The manifest is handed to ``dbtRunner(manifest=...)`` (dbt's documented way to
skip parsing); it is stored as dbt's own msgpack (data, never code: unlike pickle, loading it runs nothing).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from dbt.contracts.graph.manifest import Manifest

log = logging.getLogger("s2lake.models")

#: Bumped when what is stored, or how the key is made, changes.
CACHE_FORMAT = "1"
#: Manifests kept (one per target, configuration and project version; ~2 MB each); older ones are removed.
KEEP = 16
#: Distributions whose code parses the project.
PARSERS = ("dbt-core", "dbt-adapters", "dbt-common", "dbt-duckdb", "dbt-spark")
#: Folders in the project's paths that dbt writes or installs into, not sources of the project.
NOT_SOURCES = {"target", "logs", "dbt_packages", "__pycache__"}
MSGPACK, JSON = "manifest.msgpack", "manifest.json"


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "s2lake" / "dbt-manifests"


def manifest_key(
    project_dir: Path,
    target: str,
    project_vars: Mapping[str, Any],
    environment: Mapping[str, str],
    per_run: Sequence[str],
) -> str:
    """The cache key: every input of parsing, with the ``per_run`` strings (paths that differ between runs and
    warehouses) replaced by placeholders."""
    digest = hashlib.sha256()
    parts = {
        "format": CACHE_FORMAT,
        "versions": {name: _version(name) for name in PARSERS},
        "target": target,
        "vars": project_vars,
        "environment": {k: v for k, v in sorted(environment.items()) if k.startswith(("DBT_", "S2LAKE_DBT_"))},
    }
    digest.update(_placeholders(json.dumps(parts, sort_keys=True, default=str), per_run).encode())
    for path in _project_files(project_dir):
        digest.update(f"\0{os.path.relpath(path, project_dir)}\0".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:32]


def load(key: str, target_path: Path) -> Manifest | None:
    """The manifest kept under ``key`` (None when there is none or it cannot be read); its manifest.json is put
    into ``target_path``, where dbt would have written it (the marts' plugin reads the column docs there)."""
    folder = cache_root() / key
    if not (folder / MSGPACK).is_file():
        return None
    from dbt.contracts.graph.manifest import Manifest

    try:
        manifest = Manifest.from_msgpack((folder / MSGPACK).read_bytes())
        target_path.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(folder / JSON, target_path / JSON)
    except Exception as exc:  # an unreadable or partly removed entry: parse again, the entry is rewritten
        log.warning("dbt manifest cache %s unusable (%s): parsing the project", folder, exc)
        shutil.rmtree(folder, ignore_errors=True)  # rewritten after the parse
        return None
    manifest.build_flat_graph()  # not stored; dbt builds it after loading a manifest itself
    os.utime(folder)  # most recently used: pruned last
    log.debug("dbt manifest from cache %s", folder)
    return manifest


def store(key: str, manifest: Manifest, target_path: Path, per_run: Sequence[str]) -> bool:
    """Keep ``manifest`` (and the manifest.json dbt wrote into ``target_path``) under ``key`` unless it holds a
    ``per_run`` string; False when it was not kept. A cache that cannot be written only costs the next parse."""
    from dbt.parser.manifest import extended_mashumaro_encoder

    data = manifest.to_msgpack(extended_mashumaro_encoder)
    written = (target_path / JSON).read_bytes()
    if found := [s for s in per_run if s and (s.encode() in data or s.encode() in written)]:
        log.debug("dbt manifest not cached: it holds this run's path(s) %s", found)
        return False
    root = cache_root()
    try:
        root.mkdir(parents=True, exist_ok=True, mode=0o700)
        staging = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=root))
        (staging / MSGPACK).write_bytes(data)
        (staging / JSON).write_bytes(written)
        try:
            staging.rename(root / key)
        except OSError:  # another build stored the same key meanwhile: same content
            shutil.rmtree(staging, ignore_errors=True)
        _prune(root)
    except OSError as exc:
        log.warning("dbt manifest cache %s not written (%s)", root, exc)
        return False
    return True


def _prune(root: Path) -> None:
    entries = sorted((p for p in root.iterdir() if not p.name.startswith(".")), key=lambda p: p.stat().st_mtime)
    for old in entries[:-KEEP]:
        shutil.rmtree(old, ignore_errors=True)


def _placeholders(text: str, per_run: Sequence[str]) -> str:
    # longest first: the report scope file lies inside dbt's state folder, itself inside the warehouse
    for number, value in sorted(enumerate(per_run), key=lambda item: -len(item[1])):
        if value:
            text = text.replace(json.dumps(value)[1:-1], f"<per-run {number}>")
    return text


def _project_files(project_dir: Path) -> Iterable[Path]:
    """dbt_project.yml, profiles.yml and every file under the project's ``*-paths`` folders, in a stable order."""
    project = yaml.safe_load((project_dir / "dbt_project.yml").read_text(encoding="utf-8"))
    folders = {
        (project_dir / folder).resolve()
        for key, value in project.items()
        if key.endswith("-paths") and isinstance(value, list)
        for folder in value
    }
    files = [project_dir / "dbt_project.yml", project_dir / "profiles.yml"]
    for folder in sorted(folders):
        for current, subfolders, names in os.walk(folder):
            subfolders[:] = sorted(d for d in subfolders if d not in NOT_SOURCES and not d.startswith("."))
            files += [Path(current) / name for name in sorted(names) if not name.startswith(".")]
    return [f for f in files if f.is_file()]


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "absent"
