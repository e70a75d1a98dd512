"""Answer-space readouts (inbedder_st/answer_space.py) against fst_gen, on the dev suite and the held-out split.

Run from the repository root (one generation pass over every task text, then every readout from the stored
states; about 15-25 minutes on a 2-core CPU):

    python benchmarks/answer_readouts.py --output out/answer_readouts.md [--model DIR] [--states out/states.pt]

Every readout of the first answer step is a function of the last layer's state at the last prompt position
(= the fst_gen embedding at layer -1), and the answer-step readouts of the last-layer states of the greedy
answer, so one ``generate`` pass per (instruction, text) serves them all: the states are stored, and each
readout runs the mteb tasks from them. Printed: per task and readout, mteb's main score (triplets: harmonic
mean of the two aspects), the dev and held-out means, and the held-out minimum aspect accuracy and its task/aspect.

A states file records a hash of the model's weights and is refused by any other model (a retrained model
saved to the same folder included): give each model, or each step of a run, its own ``--states`` file.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from inbedder_st import answer_space  # noqa: E402
from inbedder_st.cache.keys import weights_fingerprint  # noqa: E402


@dataclass
class Readout:
    name: str
    pooling: str  # fst_gen, answer_dist or answer_sparse
    temperature: float = 1.0
    drop: str = "punctuation"
    top_k: int = 64
    steps: str = "first"
    dense: str = "expected"  # answer_dist variants: "expected" E^T p, "sqrt" E^T sqrt(p)


READOUTS = [
    Readout("fst_gen (raw state)", "fst_gen"),
    Readout("dist E^T p, T=1", "answer_dist"),
    Readout("dist E^T p, T=0.5", "answer_dist", temperature=0.5),
    Readout("dist E^T p, T=2", "answer_dist", temperature=2.0),
    Readout("dist E^T p, T=3", "answer_dist", temperature=3.0),
    Readout("dist E^T p, drop special only", "answer_dist", drop="special"),
    Readout("dist E^T p, drop stopwords too", "answer_dist", drop="stopwords"),
    Readout("dist E^T sqrt(p)", "answer_dist", dense="sqrt"),
    Readout("dist E^T p, answer steps", "answer_dist", steps="answer"),
    Readout("sparse k=16", "answer_sparse", top_k=16),
    Readout("sparse k=64", "answer_sparse", top_k=64),
    Readout("sparse k=256", "answer_sparse", top_k=256),
    Readout("sparse k=64, T=2", "answer_sparse", temperature=2.0),
    Readout("sparse k=64, drop stopwords too", "answer_sparse", drop="stopwords"),
    Readout("sparse k=64, answer steps", "answer_sparse", steps="answer"),
]


class StateStore:
    """(instruction, text) -> last-layer states of the first answer step and the greedy answer steps + keep.

    ``first_only`` stores the first step alone (one forward pass, no generation)."""

    def __init__(self, model, path: Path | None, batch_size: int = 32, first_only: bool = False):
        self.model, self.module, self.path, self.batch_size = model, model[0], path, batch_size
        self.first_only = first_only
        self.identity = {"store": type(self).__name__, "first_only": first_only, "weights": weights_fingerprint(model)}
        self.states: dict[tuple[str, str], tuple[torch.Tensor, torch.Tensor]] = {}
        if path and path.is_file():
            self.states = self.load(path)
        self.dirty = False

    def load(self, path: Path) -> dict:
        """The states stored at ``path``, refused when another model or store kind wrote them: a retrained model
        saved to the same folder would otherwise be scored with its predecessor's states."""
        stored = torch.load(path)
        if "identity" not in stored:  # written before files carried one
            print(f"warning: {path} records no model identity; its states are used unchecked", file=sys.stderr)
            return stored
        if stored["identity"] != self.identity:
            raise ValueError(
                f"{path} holds states of another model or store ({stored['identity']}), not of this one "
                f"({self.identity}); pass another --states file or delete it"
            )
        return stored["states"]

    def compute(self, texts: list[str], prompt: str) -> None:
        missing = sorted({t for t in texts if (prompt, t) not in self.states}, key=len)
        device = self.module.model.device
        for start in range(0, len(missing), self.batch_size):
            chunk = missing[start : start + self.batch_size]
            features = self.module.preprocess(chunk, prompt=prompt)
            ids, mask = features["input_ids"].to(device), features["attention_mask"].to(device)
            with torch.inference_mode():
                for text, value in zip(chunk, self.batch_states(ids, mask)):
                    self.states[(prompt, text)] = value
            self.dirty = True

    def batch_states(self, ids: torch.Tensor, mask: torch.Tensor) -> list:
        """What is stored per text of a padded batch: (answer-step states fp16, keep mask)."""
        from inbedder_st.backbones import causal

        if self.first_only:
            last = causal.prompt_states(self.module.model, ids, mask, causal.num_layers(self.module.model))
            states, keep = last[:, -1:], torch.ones(len(ids), 1, dtype=torch.bool)
        else:
            generation = self.module.generate(ids, mask)
            states, keep = generation.answer_states, generation.keep
        return [(states[row].half().cpu().clone(), keep[row].cpu().clone()) for row in range(len(ids))]

    def get(self, texts: list[str], prompt: str) -> tuple[torch.Tensor, torch.Tensor]:
        self.compute(texts, prompt)
        steps = max(self.states[(prompt, t)][0].shape[0] for t in texts)
        hidden = self.module.get_embedding_dimension()
        states = torch.zeros(len(texts), steps, hidden)
        keep = torch.zeros(len(texts), steps, dtype=torch.bool)
        for row, text in enumerate(texts):
            s, k = self.states[(prompt, text)]
            states[row, : s.shape[0]], keep[row, : k.shape[0]] = s.float(), k
        return states, keep

    def save(self) -> None:
        if self.path and self.dirty:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            torch.save({"identity": self.identity, "states": self.states}, self.path)
            self.dirty = False


class PairRecorder:
    """A stand-in model for mteb that records every (instruction, texts) a task asks for (random vectors out)."""

    def __init__(self):
        self.pairs: dict[str, set[str]] = {}

    def encode(self, texts, prompt=None, **kwargs) -> np.ndarray:
        self.pairs.setdefault(prompt, set()).update(texts)
        return np.random.default_rng(0).normal(size=(len(texts), 8)).astype(np.float32)


class ReadoutModel:
    """What mteb_tasks.InstructionEncoder needs of a model: ``encode(texts, prompt=...)``."""

    def __init__(self, store: StateStore, readout: Readout):
        self.store, self.readout = store, readout
        module = store.module
        lm_head = module.model.get_output_embeddings().weight.detach().float()
        self.embeddings = lm_head
        self.dropped = answer_space.dropped_token_mask(module.tokenizer, lm_head.shape[0], readout.drop)
        self.columns = None  # answer_sparse: the vocabulary entries any stored text activates (set at the first
        # encode, once every state is stored): dot products and distances are unchanged, mteb runs ~5x faster

    def active_columns(self) -> torch.Tensor:
        used = torch.zeros(self.embeddings.shape[0], dtype=torch.bool)
        items = list(self.store.states.values())
        for start in range(0, len(items), 1024):
            chunk = items[start : start + 1024]
            steps = max(s.shape[0] for s, _ in chunk)
            states = torch.zeros(len(chunk), steps, self.embeddings.shape[1])
            keep = torch.zeros(len(chunk), steps, dtype=torch.bool)
            for row, (s, k) in enumerate(chunk):
                states[row, : s.shape[0]], keep[row, : k.shape[0]] = s.float(), k
            used |= (self.vectors(states, keep) != 0).any(0)
        return used.nonzero().squeeze(1)

    def vectors(self, s: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        r = self.readout
        if r.steps == "first":
            probs = answer_space.answer_distribution(s[:, 0] @ self.embeddings.T, self.dropped, r.temperature)
        else:
            step_probs = answer_space.answer_distribution(s @ self.embeddings.T, self.dropped, r.temperature)
            probs = answer_space.mean_over_steps(step_probs, k)
        if r.pooling == "answer_dist" and r.dense == "sqrt":
            return probs.sqrt() @ self.embeddings
        return answer_space.readout(r.pooling, probs, self.embeddings, r.top_k)

    def __getitem__(self, index):  # mteb_tasks.is_inbedder() probes model[0]
        return self.store.model[index]

    def encode(self, texts, prompt=None, **kwargs) -> np.ndarray:
        states, keep = self.store.get(list(texts), prompt)
        r = self.readout
        if r.pooling == "fst_gen":
            return states[:, 0].numpy()
        if r.pooling == "answer_sparse" and self.columns is None:
            self.columns = self.active_columns()
        out = []
        for start in range(0, len(texts), 256):
            vectors = self.vectors(states[start : start + 256], keep[start : start + 256])
            out.append(vectors if self.columns is None else vectors[:, self.columns])
        return torch.cat(out).numpy()


def score_readout(model, tasks, meta_name: str, label: str, after_task=lambda: None):
    """Run ``tasks`` on a stand-in model (``encode(texts, prompt=...)``): (task -> main score, triplet
    HM for two-aspect tasks), (task/aspect -> accuracy)."""
    import mteb

    from mteb_tasks import InstructionEncoder, default_model_meta
    from mteb_tasks.aggregate import harmonic_mean, main_scores

    tick = time.monotonic()
    encoder = InstructionEncoder(model, "prompt", meta=default_model_meta.model_copy(update={"name": meta_name}))
    table: dict[str, float] = {}
    aspects: dict[str, float] = {}
    for task in tasks:
        result = mteb.evaluate(encoder, task, cache=None, show_progress_bar=False, co2_tracker=False)
        if result.exceptions:
            raise RuntimeError(f"{task.metadata.name}: {result.exceptions[0].exception}")
        scores = main_scores(result.task_results[0])
        name = task.metadata.name
        if len(scores) == 2:
            table[name] = harmonic_mean(*scores.values())
            aspects.update({f"{name}/{subset}": s for subset, s in scores.items()})
        else:
            table[name] = next(iter(scores.values()))
        after_task()
    print(f"{label}: {time.monotonic() - tick:.0f} s", file=sys.stderr, flush=True)
    return table, aspects


def suite_summary(scores: dict[str, float], aspects: dict[str, float], names: list[str]) -> dict:
    """One readout's figures of the issue's bars: mean dev triplet HM, mean held-out triplet HM, the lowest
    held-out aspect accuracy and which task/aspect it is (None where the tasks run hold no such triplets)."""
    from mteb_tasks.heldout_tasks import HELDOUT_TASKS

    held = [n for n in names if n in HELDOUT_TASKS and "Triplets" in n]
    dev = [n for n in names if n not in HELDOUT_TASKS and n.endswith("Triplets")]
    held_aspects = {k: v for k, v in aspects.items() if k.split("/")[0] in held}
    weakest = min(held_aspects, key=held_aspects.__getitem__) if held_aspects else None
    return {
        "dev": sum(scores[n] for n in dev) / len(dev) if dev else None,
        "heldout": sum(scores[n] for n in held) / len(held) if held else None,
        "lowest": held_aspects[weakest] if weakest else None,
        "weakest": weakest,
    }


def percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}"


def score_readouts(models: dict, tasks, prefix: str, after_task=lambda: None):
    """``score_readout`` for each named model: (name -> task -> score, name -> task/aspect -> accuracy)."""
    table: dict[str, dict[str, float]] = {}
    aspects: dict[str, dict[str, float]] = {}
    for name, model in models.items():
        table[name], aspects[name] = score_readout(model, tasks, f"{prefix}/{len(table)}", name, after_task)
    return table, aspects


def load(args):
    import inbedder_st

    options = {"device": args.device} if args.device else {}
    model = inbedder_st.load_model(args.model, **options) if args.model else inbedder_st.load_model(**options)
    model[0].max_new_tokens = 3  # the answer steps the "answer steps" readouts pool
    return model


def compute_states(args) -> None:
    """The states of every (instruction, text) in a pairs file, stored for later readouts (needs no mteb)."""
    model = load(args)
    store = StateStore(model, args.states, batch_size=args.batch_size, first_only=args.first_only)
    pairs = json.loads(args.compute_states.read_text(encoding="utf-8"))
    tick = time.monotonic()
    for prompt, texts in pairs.items():
        store.compute(texts, prompt)
    store.save()
    n = sum(map(len, pairs.values()))
    print(f"{n} states in {time.monotonic() - tick:.1f} s ({n / (time.monotonic() - tick):.0f}/s) -> {args.states}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="a saved InBedder folder (default: the embedded default)")
    parser.add_argument("--tasks", nargs="+", default=["dev", "heldout"])
    parser.add_argument("--states", type=Path, default=Path("out/answer_readout_states.pt"))
    parser.add_argument("--output", type=Path, default=Path("out/answer_readouts.md"))
    parser.add_argument("--only", nargs="*", help="readout names to run (default: all)")
    parser.add_argument("--export-pairs", type=Path, help="only write the tasks' (instruction, texts) to this JSON file")
    parser.add_argument("--compute-states", type=Path, metavar="PAIRS", help="only store the states of these pairs (no mteb)")
    parser.add_argument("--first-only", action="store_true", help="store the first answer step only (no generation)")
    parser.add_argument("--device", default=None)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    if args.compute_states:
        return compute_states(args)

    import mteb

    from mteb_tasks import InstructionEncoder, default_model_meta, get_tasks

    tasks = get_tasks(args.tasks)
    if args.export_pairs:
        recorder = PairRecorder()
        meta = default_model_meta.model_copy(update={"name": "readouts/pairs"})
        for task in tasks:
            mteb.evaluate(InstructionEncoder(recorder, "prompt", meta=meta), task, cache=None, show_progress_bar=False)
        pairs = {prompt: sorted(texts) for prompt, texts in recorder.pairs.items()}
        args.export_pairs.write_text(json.dumps(pairs), encoding="utf-8")
        print(f"{sum(map(len, pairs.values()))} pairs under {len(pairs)} instructions -> {args.export_pairs}")
        return
    model = load(args)
    store = StateStore(model, args.states, first_only=args.first_only)
    readouts = [r for r in READOUTS if not args.only or r.name in args.only]
    if args.first_only and any(r.steps != "first" for r in readouts):
        parser.error("--first-only stores no answer steps: leave out the 'answer steps' readouts (use --only)")
    readouts.sort(key=lambda r: r.pooling == "answer_sparse")  # last: their columns need every state stored
    if readouts and readouts[0].pooling == "answer_sparse":  # so store them first (fst_gen, seconds if stored)
        score_readouts({"states": ReadoutModel(store, READOUTS[0])}, tasks, "states", after_task=store.save)
    models = {readout.name: ReadoutModel(store, readout) for readout in readouts}
    table, aspects = score_readouts(models, tasks, "readouts", after_task=store.save)

    names = [task.metadata.name for task in tasks]
    lines = ["| task | " + " | ".join(table) + " |", "|---|" + "---:|" * len(table)]
    for name in names:
        lines.append(f"| {name} | " + " | ".join(f"{100 * table[r][name]:.2f}" for r in table) + " |")
    summaries = {r: suite_summary(table[r], aspects[r], names) for r in table}
    for row, key in (("mean dev triplet HM", "dev"), ("mean held-out triplet HM", "heldout"),
                     ("min held-out aspect accuracy", "lowest")):  # fmt: skip
        lines.append(f"| {row} | " + " | ".join(percent(summaries[r][key]) for r in table) + " |")
    lines.append("| weakest held-out aspect | " + " | ".join(summaries[r]["weakest"] or "-" for r in table) + " |")
    markdown = "\n".join(lines) + "\n"
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(markdown, encoding="utf-8")
    print(markdown)


if __name__ == "__main__":
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    main()
