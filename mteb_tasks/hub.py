"""Where a hub task reads its data: the Hugging Face Hub at the pinned revision, or a local mirror.

Real users get ``datasets.load_dataset(path=<hub id>, revision=<pinned>, name=<subset>)``. Machines without
a hub (CI, air-gapped clusters, our tests) point ``$INBEDDER_MTEB_DATASETS`` (or :func:`use_local_datasets`)
at a folder laid out like the hub, ``<root>/<org>/<name>/``, holding files of the same schema (with a
README ``configs:`` block for subsets). Only the ``path`` argument changes, so the loading, subset
selection and ``dataset_transform`` code is the same code that runs against the hub.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

LOCAL_DATASETS_ENV = "INBEDDER_MTEB_DATASETS"


def local_datasets_root() -> Path | None:
    root = os.environ.get(LOCAL_DATASETS_ENV)
    return Path(root) if root else None


@contextlib.contextmanager
def use_local_datasets(root: str | Path) -> Iterator[Path]:
    """Read hub tasks from ``root/<org>/<name>`` while the block runs."""
    previous = os.environ.get(LOCAL_DATASETS_ENV)
    os.environ[LOCAL_DATASETS_ENV] = str(root)
    try:
        yield Path(root)
    finally:
        if previous is None:
            os.environ.pop(LOCAL_DATASETS_ENV, None)
        else:
            os.environ[LOCAL_DATASETS_ENV] = previous


def load_dataset_args(task_name: str, dataset: dict[str, Any]) -> dict[str, Any]:
    """``load_dataset`` keyword arguments for a task's ``metadata.dataset``, redirected to the mirror if set."""
    args = dict(dataset)
    root = local_datasets_root()
    if root is None:
        return args
    local = root / args["path"]
    if not local.is_dir():
        raise FileNotFoundError(
            f"Task {task_name!r} reads hub dataset {args['path']!r}, but ${LOCAL_DATASETS_ENV}={root} has no "
            f"folder {local}. Mirror it there (same files as on the hub) or unset ${LOCAL_DATASETS_ENV}."
        )
    args["path"] = str(local)
    return args
