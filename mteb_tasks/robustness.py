"""The paper's robustness test: rerun a task under 10 correct, 10 implicit and 10 incorrect instructions.

Each variant is an ordinary mteb task (same data, the variant instruction as ``metadata.prompt``) named
``<Task>__<kind><NN>``, so its results are saved and cached like any other. From the variants' main scores:
``dci = min(correct) - max(incorrect)`` and ``dii = min(implicit) - max(incorrect)``: positive values mean
even the worst right question beats the best wrong one.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping

from mteb.abstasks.abstask import AbsTask

from mteb_tasks.instructed import InstructedTask

VARIANT_KINDS = ("correct", "implicit", "incorrect")
_VARIANT_NAME = re.compile(r"^(?P<task>.+)__(?P<kind>correct|implicit|incorrect)(?P<index>\d+)$")


def variant_name(task_name: str, kind: str, index: int) -> str:
    return f"{task_name}__{kind}{index:02d}"


def parse_variant_name(name: str) -> tuple[str, str, int] | None:
    match = _VARIANT_NAME.match(name)
    return (match["task"], match["kind"], int(match["index"])) if match else None


def has_variants(task: AbsTask) -> bool:
    return isinstance(task, InstructedTask) and bool(task.instruction_variants)


def robustness_tasks(task: InstructedTask) -> list[AbsTask]:
    """One task per instruction variant (the task's ``instruction_variants``).

    Each variant's class carries ``instruction_family``: the base instruction and every variant's. An encoder
    with an embedding cache is told it when the variant is evaluated (``InstructedTask.evaluate``), embeds the
    shared texts under all of them in one ``encode_multi`` pass, and the other variants read theirs back.
    """
    if not has_variants(task):
        raise ValueError(f"Task {task.metadata.name!r} has no robustness instructions (instruction_variants).")
    if task.subset_instructions:
        raise ValueError(f"Task {task.metadata.name!r} asks one instruction per subset; variants replace a single one.")
    variants = []
    family = [task.metadata.prompt, *(i for kind in VARIANT_KINDS for i in task.instruction_variants.get(kind, []))]
    family = tuple(dict.fromkeys(i for i in family if isinstance(i, str) and i))
    for kind in VARIANT_KINDS:
        for index, instruction in enumerate(task.instruction_variants.get(kind, [])):
            name = variant_name(task.metadata.name, kind, index)
            metadata = task.metadata.model_copy(update={"name": name, "prompt": instruction})
            # A subclass, not an instance attribute: mteb's unload_data() drops instance-level metadata.
            attributes = {"metadata": metadata, "instruction_family": family, "__module__": __name__}
            variants.append(type(name, (type(task),), attributes)())
    return variants


def robustness_scores(main_scores: Mapping[str, float]) -> dict[str, dict[str, float]]:
    """{task name: main score} (variants among them) -> {base task: dci, dii and the extremes}."""
    by_task: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for name, score in main_scores.items():
        parsed = parse_variant_name(name)
        if parsed:
            by_task[parsed[0]][parsed[1]].append(score)
    report = {}
    for task, kinds in by_task.items():
        if not all(kinds.get(kind) for kind in VARIANT_KINDS):
            continue  # a partial run: no honest dci/dii
        worst_wrong = max(kinds["incorrect"])
        report[task] = {
            "dci": min(kinds["correct"]) - worst_wrong,
            "dii": min(kinds["implicit"]) - worst_wrong,
            "min_correct": min(kinds["correct"]),
            "min_implicit": min(kinds["implicit"]),
            "max_incorrect": worst_wrong,
            "n_variants": sum(len(v) for v in kinds.values()),
        }
    return report
