"""Per-product download state, persisted at every transition in SQLite under the warehouse ``_state/``.

SQLite commits are atomic and survive a killed process, so a new ``get`` knows which products landed
(skipped), which were in flight (re-queued; their ``.part`` files resume with Range) and why others
failed. The ``events`` table keeps every transition for diagnosis.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ingest.products import Product

QUEUED, DOWNLOADING, VERIFYING, EXTRACTING, LANDED, FAILED = (
    "queued",
    "downloading",
    "verifying",
    "extracting",
    "landed",
    "failed",
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS products (
    product_id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    reason TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    mirror TEXT,
    storage_path TEXT,
    payload TEXT NOT NULL,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    ts REAL NOT NULL,
    product_id TEXT NOT NULL,
    status TEXT NOT NULL,
    mirror TEXT,
    detail TEXT
);
"""
#: Columns added after the first release: a state file written before them gets them when opened.
_ADDED_COLUMNS = {"fetched": "TEXT", "fetched_files": "INTEGER", "fetched_bytes": "INTEGER"}
_COLUMNS = "payload, status, reason, attempts, mirror, storage_path, fetched, fetched_files, fetched_bytes"


@dataclass
class ProductState:
    product: Product
    status: str
    reason: str | None
    attempts: int
    mirror: str | None
    storage_path: str | None
    fetched: str | None = None  # "all" (the archive) or "patches" (the files the patch job reads)
    fetched_files: int | None = None
    fetched_bytes: int | None = None


class StateStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        # WAL + NORMAL: every commit is atomic and survives a killed process (only an OS crash or power
        # loss may drop the last transitions, which then are simply redone).
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        present = {row[1] for row in self._db.execute("PRAGMA table_info(products)")}
        for column, kind in _ADDED_COLUMNS.items():
            if column not in present:
                self._db.execute(f"ALTER TABLE products ADD COLUMN {column} {kind}")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def get(self, product_id: str) -> ProductState | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {_COLUMNS} FROM products WHERE product_id = ?",
                (product_id,),
            ).fetchone()
        if row is None:
            return None
        return ProductState(Product.from_json(json.loads(row[0])), *row[1:])

    def all(self) -> list[ProductState]:
        with self._lock:
            rows = self._db.execute(f"SELECT {_COLUMNS} FROM products ORDER BY product_id").fetchall()
        return [ProductState(Product.from_json(json.loads(r[0])), *r[1:]) for r in rows]

    def enqueue(self, products: list[Product]) -> list[Product]:
        """Queue products (one transaction) unless they already landed; return those queued.

        In-flight leftovers of a killed run are queued again; their ``.part`` files resume.
        """
        queued = []
        with self._lock, self._db:
            self._db.execute("BEGIN")
            for product in products:
                row = self._db.execute(
                    "SELECT status FROM products WHERE product_id = ?", (product.product_id,)
                ).fetchone()
                if row and row[0] == LANDED:
                    continue
                self._db.execute(
                    "INSERT INTO products (product_id, status, reason, attempts, payload, updated) "
                    "VALUES (?, ?, NULL, 0, ?, ?) ON CONFLICT(product_id) DO UPDATE SET "
                    "status = excluded.status, reason = NULL, attempts = 0, payload = excluded.payload, "
                    "updated = excluded.updated",
                    (product.product_id, QUEUED, json.dumps(product.to_json()), time.time()),
                )
                self._db.execute(
                    "INSERT INTO events VALUES (?, ?, ?, NULL, ?)",
                    (time.time(), product.product_id, QUEUED, "resumed" if row else "new"),
                )
                queued.append(product)
        return queued

    def save_product(self, product: Product) -> None:
        """Store what was learnt about a product after it was queued (an offer's size and checksum)."""
        with self._lock, self._db:
            self._db.execute(
                "UPDATE products SET payload = ?, updated = ? WHERE product_id = ?",
                (json.dumps(product.to_json()), time.time(), product.product_id),
            )

    def transition(
        self,
        product_id: str,
        status: str,
        *,
        mirror: str | None = None,
        reason: str | None = None,
        storage_path: str | None = None,
        attempt: bool = False,
        fetched: tuple[str, int | None, int] | None = None,
    ) -> None:
        """Record a new status; ``fetched`` (what, files, bytes) when a product lands."""
        what, files, size = fetched or (None, None, None)
        with self._lock, self._db:
            self._db.execute(
                "UPDATE products SET status = ?, reason = ?, mirror = COALESCE(?, mirror), "
                "storage_path = COALESCE(?, storage_path), attempts = attempts + ?, updated = ?, "
                "fetched = COALESCE(?, fetched), fetched_files = COALESCE(?, fetched_files), "
                "fetched_bytes = COALESCE(?, fetched_bytes) WHERE product_id = ?",
                (status, reason, mirror, storage_path, 1 if attempt else 0, time.time(), what, files, size, product_id),
            )
            self._db.execute(
                "INSERT INTO events VALUES (?, ?, ?, ?, ?)", (time.time(), product_id, status, mirror, reason)
            )

    def events(self, product_id: str | None = None) -> list[tuple]:
        with self._lock:
            if product_id:
                return self._db.execute(
                    "SELECT ts, product_id, status, mirror, detail FROM events WHERE product_id = ? ORDER BY rowid",
                    (product_id,),
                ).fetchall()
            return self._db.execute(
                "SELECT ts, product_id, status, mirror, detail FROM events ORDER BY rowid"
            ).fetchall()
