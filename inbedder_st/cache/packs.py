"""The embedding cache's pack files: the embeddings one ``encode`` call computed, checksummed, written atomically.

A pack (``<uuid>.npz``) holds ``keys`` (a 20-byte text digest per row, uint8), ``vectors`` (float32) and a
SHA-256 ``checksum`` over both and the two folder keys (model, variant), so a pack copied into another folder
fails too. A pack is written to a temporary file, read back and verified, then renamed into place
(``os.replace``): a reader never sees half a pack, and a pack that reaches the index was whole on disk.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
import zipfile
import zlib
from pathlib import Path

import numpy as np

from inbedder_st.cache.keys import TEXT_DIGEST_BYTES

PACK_SUFFIX = ".npz"


class CorruptPack(ValueError):
    pass


def _checksum(keys: np.ndarray, vectors: np.ndarray, model: str, instruction: str) -> str:
    digest = hashlib.sha256(f"{model}/{instruction}/{keys.shape}/{vectors.shape}".encode())
    digest.update(np.ascontiguousarray(keys).tobytes())
    digest.update(np.ascontiguousarray(vectors).tobytes())
    return digest.hexdigest()


def read_pack(path: Path, model: str, instruction: str) -> tuple[np.ndarray, np.ndarray]:
    """(keys [N, 20] uint8, vectors [N, dim] float32) after checking shapes and checksum, or CorruptPack."""
    try:
        with np.load(path, allow_pickle=False) as pack:
            keys, vectors, checksum = pack["keys"], pack["vectors"], str(pack["checksum"])
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        # truncated zip, garbage bytes (numpy refuses to unpickle them), a missing member, a bad CRC
        raise CorruptPack(f"unreadable ({type(error).__name__}: {error})") from None
    if keys.dtype != np.uint8 or keys.ndim != 2 or keys.shape[1] != TEXT_DIGEST_BYTES:
        raise CorruptPack(f"keys have shape {keys.shape} and dtype {keys.dtype}")
    if vectors.dtype != np.float32 or vectors.ndim != 2 or vectors.shape[0] != keys.shape[0]:
        raise CorruptPack(f"vectors have shape {vectors.shape} and dtype {vectors.dtype} for {keys.shape[0]} keys")
    if checksum != _checksum(keys, vectors, model, instruction):
        raise CorruptPack("checksum mismatch")
    return keys, vectors


def write_pack(folder: Path, keys: np.ndarray, vectors: np.ndarray, model: str, instruction: str) -> Path:
    """Write to a temporary file in the same folder, verify it, then rename: readers see a whole pack or none."""
    folder.mkdir(parents=True, exist_ok=True)
    name = uuid.uuid4().hex
    temporary, final = folder / f".{name}.tmp", folder / f"{name}{PACK_SUFFIX}"
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    try:
        with open(temporary, "wb") as f:
            np.savez(f, keys=keys, vectors=vectors, checksum=np.array(_checksum(keys, vectors, model, instruction)))
            f.flush()
            os.fsync(f.fileno())
        read_pack(temporary, model, instruction)  # verified once here; the index then vouches for it
        os.replace(temporary, final)
    finally:
        temporary.unlink(missing_ok=True)
    return final


def write_json_once(path: Path, content: dict) -> None:
    """A readable description beside the packs (model.json, instruction.json), written atomically once."""
    if path.is_file():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{uuid.uuid4().hex}.tmp")
    temporary.write_text(json.dumps(content, indent=1, sort_keys=True, default=str), encoding="utf-8")
    os.replace(temporary, path)
