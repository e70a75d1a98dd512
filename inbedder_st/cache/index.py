"""The embedding cache's index: which pack, and which row of it, holds a text's vector (SQLite, one file).

``ROOT/index.sqlite`` has one row per stored (folder, text digest) -> (pack, row), so a lookup reads the index
rows of the texts it wants and opens only the packs that hold them, however many packs the cache has. A folder
is the ``<model key>/<variant key>`` directory of its packs; folders and packs are numbered in their own tables
to keep the rows small (about 40 bytes), so the pages a lookup touches stay few.

A folder whose packs were written without the index (a cache from before it, or an index deleted by hand) is
indexed once, when it is first used: each of its packs is read and verified then. A pack whose write finished
but whose index rows did not (a crash in between) is not found; its texts are computed and stored again.
Every write is its own transaction, so processes sharing a cache folder see each other's packs.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path

INDEX_NAME = "index.sqlite"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS folders (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, indexed INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS packs (id INTEGER PRIMARY KEY, folder INTEGER NOT NULL, name TEXT NOT NULL,
                                  UNIQUE (folder, name));
CREATE TABLE IF NOT EXISTS entries (folder INTEGER NOT NULL, digest BLOB NOT NULL, pack INTEGER NOT NULL,
                                    row INTEGER NOT NULL, PRIMARY KEY (folder, digest)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS entries_by_pack ON entries (pack);
"""
_CHUNK = 500  # digests per query (SQLite's limit on bound parameters is 999 in old builds)


class PackIndex:
    def __init__(self, root: Path):
        self.path = Path(root) / INDEX_NAME
        self._connection: sqlite3.Connection | None = None
        self._owner = None  # (pid, inode): a forked child or a deleted index file needs a new connection

    def _db(self) -> sqlite3.Connection:
        """One connection per process, kept open so its page cache stays warm between lookups."""
        try:
            owner = (os.getpid(), self.path.stat().st_ino)
        except FileNotFoundError:
            owner = None
        if self._connection is None or owner != self._owner:
            self.close()
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._connection = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            self._connection.execute("PRAGMA mmap_size = 268435456")  # reads without a system call per page
            self._connection.executescript(_SCHEMA)
            self._owner = (os.getpid(), self.path.stat().st_ino)
        return self._connection

    def __getstate__(self) -> dict:
        return {"path": self.path, "_connection": None, "_owner": None}  # a connection does not travel

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
        self._connection = None

    def _folder_id(self, db: sqlite3.Connection, folder: str, create: bool) -> int | None:
        if create:
            db.execute("INSERT OR IGNORE INTO folders (name, indexed) VALUES (?, 0)", (folder,))
        row = db.execute("SELECT id FROM folders WHERE name = ?", (folder,)).fetchone()
        return row[0] if row else None

    def is_indexed(self, folder: str) -> bool:
        row = self._db().execute("SELECT indexed FROM folders WHERE name = ?", (folder,)).fetchone()
        return bool(row and row[0])

    def mark_indexed(self, folder: str) -> None:
        db = self._db()
        with db:
            db.execute("BEGIN IMMEDIATE")
            folder_id = self._folder_id(db, folder, create=True)
            db.execute("UPDATE folders SET indexed = 1 WHERE id = ?", (folder_id,))

    def add(self, folder: str, pack: str, digests: Iterable[bytes]) -> None:
        """Index a pack's rows; a digest stored again points to its newest pack."""
        db = self._db()
        with db:
            db.execute("BEGIN IMMEDIATE")
            folder_id = self._folder_id(db, folder, create=True)
            db.execute("INSERT OR IGNORE INTO packs (folder, name) VALUES (?, ?)", (folder_id, pack))
            (pack_id,) = db.execute("SELECT id FROM packs WHERE folder = ? AND name = ?", (folder_id, pack)).fetchone()
            rows = [(folder_id, digest, pack_id, row) for row, digest in enumerate(digests)]
            db.executemany("INSERT OR REPLACE INTO entries VALUES (?, ?, ?, ?)", rows)

    def find(self, folder: str, digests: Sequence[bytes]) -> dict[bytes, tuple[str, int]]:
        """{digest: (pack file name, row)} for the wanted digests that are stored."""
        db = self._db()
        folder_id = self._folder_id(db, folder, create=False)
        if folder_id is None:
            return {}
        unique = sorted(set(digests))  # in key order: neighbouring rows share index pages
        found: dict[bytes, tuple[str, int]] = {}
        names: dict[int, str] = {}
        for start in range(0, len(unique), _CHUNK):
            chunk = unique[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            query = f"SELECT digest, pack, row FROM entries WHERE folder = ? AND digest IN ({marks})"
            for digest, pack_id, row in db.execute(query, (folder_id, *chunk)):
                if pack_id not in names:
                    names[pack_id] = db.execute("SELECT name FROM packs WHERE id = ?", (pack_id,)).fetchone()[0]
                found[bytes(digest)] = (names[pack_id], row)
        return found

    def forget_pack(self, folder: str, pack: str) -> None:
        db = self._db()
        with db:
            db.execute("BEGIN IMMEDIATE")
            folder_id = self._folder_id(db, folder, create=False)
            row = db.execute("SELECT id FROM packs WHERE folder = ? AND name = ?", (folder_id, pack)).fetchone()
            if row:
                db.execute("DELETE FROM entries WHERE pack = ?", row)
                db.execute("DELETE FROM packs WHERE id = ?", row)
