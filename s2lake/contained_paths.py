"""Proof that a path built from outside input stays inside the folder it belongs in.

Every file ingest writes, moves or deletes is named after something a catalogue said. The product-name
grammar (:mod:`s2lake.product_names`) already rules out separators and ``..``; this check is the second,
independent guard at the point of use: it resolves the path (following symlinks, so a link planted in
``landing/`` cannot redirect a write or an ``rmtree``) and refuses anything that does not end up strictly
below the resolved root. Hand-written because the standard library has no "join and prove contained"
(``Path.is_relative_to`` compares text only, without ``..`` or symlinks resolved).
"""

from __future__ import annotations

import posixpath
from pathlib import Path

from s2lake.errors import UnsafePathError

_FIX = "the name came from a catalogue or an archive and was refused; nothing was written or removed"


def inside(root: str | Path, *parts: str) -> Path:
    """``root/parts…``, after proving it resolves strictly below ``root`` (which need not exist yet)."""
    base = Path(root).resolve()
    path = Path(root, *parts)
    resolved = path.resolve()
    if resolved == base or not resolved.is_relative_to(base):
        raise UnsafePathError(f"{'/'.join(parts)[:200]!r} would leave {base}", where=str(resolved), fix=_FIX)
    return path


def inside_uri(root: str, *parts: str) -> str:
    """The same proof for a remote warehouse URI (``s3://…``, ``hdfs://…``), where only the text counts."""
    base = root.rstrip("/")
    relative = posixpath.normpath("/".join(parts).replace("\\", "/"))
    if relative in (".", "..") or relative.startswith(("/", "../")):
        raise UnsafePathError(f"{'/'.join(parts)[:200]!r} would leave {base}", where=base, fix=_FIX)
    return f"{base}/{relative}"
