"""A worker's share of the import: patch folders -> Parquet data files in the ``patches`` folder.

One task is a run of folders, usually one product's (see :func:`tasks`), read :data:`ROW_GROUP` at a
time (a row group holds ~40 MB of pixels, the worker's memory) and written as row groups of the task's
file(s) by the worker itself; only the files' descriptions, the patch ids and the problems go back to
the parent, which commits everything in one transaction (:mod:`s2lake.ben.table_writer`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from s2lake.ben.patch_reader import PatchFolder, read_chunk
from s2lake.ben.table_writer import DataFile, FileTarget

#: Patches per row group (one read + one Parquet row group of ~40 MB of pixels): per-batch costs (the numpy
#: statistics, a Parquet row group's set-up) shrink against the pixels' with the batch; 32 cost 25% more CPU.
ROW_GROUP = 128
#: Patches per task at most: a file of ~80 MB, and tasks small enough to keep both workers busy to the end.
MAX_TASK = 512
#: A task ends at a product change once it holds this many patches (small products share a file).
MIN_TASK = 64


@dataclass
class PatchTask:
    folders: list[PatchFolder]
    v1_to_v2: dict[str, str]  # the part of the mapping for these folders


@dataclass
class TaskResult:
    files: list[DataFile]
    ids: list[str]
    v1_metadata: list[dict] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def tasks(folders: list[PatchFolder], v1_to_v2: dict[str, str], workers: int) -> list[PatchTask]:
    """``folders`` (sorted by name, so a product's patches are adjacent) cut into tasks, each with the part
    of ``v1_to_v2`` it needs (the whole mapping of the 549,488-patch metadata would be pickled per task).
    Tasks are at most ``len / (8 * workers)`` patches, so the last ones leave no worker idle for long."""
    largest = max(ROW_GROUP, min(MAX_TASK, len(folders) // (8 * max(workers, 1))))
    cut: list[list[PatchFolder]] = []
    for folder in folders:
        size = len(cut[-1]) if cut else 0
        if not cut or size >= largest or (size >= MIN_TASK and _product(folder) != _product(cut[-1][-1])):
            cut.append([])
        cut[-1].append(folder)
    return [PatchTask(chunk, {f.name: v1_to_v2[f.name] for f in chunk if f.name in v1_to_v2}) for chunk in cut]


def _product(folder: PatchFolder) -> str:
    """The product part of a v2 id or v1 name (both end in ``_<col>_<row>``)."""
    return folder.name.rsplit("_", 2)[0]


def write_patches(task: PatchTask, target: FileTarget) -> TaskResult:
    """Read the task's folders and write them as data files of ``target`` (deleted again if anything fails)."""
    folders = task.folders
    writer = target.writer()
    result = TaskResult([], [])
    try:
        for start in range(0, len(folders), ROW_GROUP):
            chunk = read_chunk(folders[start : start + ROW_GROUP], task.v1_to_v2)
            result.v1_metadata += chunk.v1_metadata
            result.problems += chunk.problems
            if chunk.batch is not None:
                writer.write(chunk.batch)
                result.ids += chunk.batch.column("patch_id").to_pylist()
        result.files = writer.close()
    except BaseException:
        writer.discard()
        raise
    return result
