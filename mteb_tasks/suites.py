"""Task names -> task objects: the suites ``dev``, ``heldout`` (held-out wordings) and ``paper``, single task names, mteb's own tasks.

``robustness=True`` adds the 30 instruction variants of every selected task that has them.
"""

from __future__ import annotations

from pathlib import Path

from mteb.abstasks.abstask import AbsTask

from mteb_tasks.dev_tasks import DEV_TASKS, dev_tasks
from mteb_tasks.heldout_tasks import HELDOUT_TASKS, heldout_tasks
from mteb_tasks.paper_tasks import PAPER_TASKS
from mteb_tasks.robustness import has_variants, robustness_tasks

PAPER_TASKS_BY_NAME = {task.metadata.name: task for task in PAPER_TASKS}
SUITES = {"dev": list(DEV_TASKS), "heldout": list(HELDOUT_TASKS), "paper": list(PAPER_TASKS_BY_NAME)}


def get_tasks(names: list[str], *, data: str | Path | None = None, robustness: bool = False) -> list[AbsTask]:
    """Resolve suite names, task names of this package and, last, mteb's registry (e.g. "STSBenchmark")."""
    wanted: list[str] = []
    for name in names:
        for expanded in SUITES.get(name, [name]):
            if expanded not in wanted:
                wanted.append(expanded)
    dev = [name for name in wanted if name in DEV_TASKS]
    heldout = [name for name in wanted if name in HELDOUT_TASKS]
    built = {task.metadata.name: task for task in (dev_tasks(data, dev) if dev else [])}
    built.update({task.metadata.name: task for task in (heldout_tasks(data, heldout) if heldout else [])})
    tasks = []
    for name in wanted:
        if name in built:
            tasks.append(built[name])
        elif name in PAPER_TASKS_BY_NAME:
            tasks.append(PAPER_TASKS_BY_NAME[name]())
        else:
            tasks.append(_mteb_task(name))
    if robustness:
        tasks += [variant for task in tasks if has_variants(task) for variant in robustness_tasks(task)]
    return tasks


def _mteb_task(name: str) -> AbsTask:
    import mteb

    try:
        return mteb.get_task(name)
    except KeyError:
        raise KeyError(
            f"Unknown task {name!r}. Valid choices: the suites {list(SUITES)}, {list(DEV_TASKS) + list(HELDOUT_TASKS) + list(PAPER_TASKS_BY_NAME)}, "
            "or a task name of mteb's registry."
        ) from None
