"""fst_gen read at other layers than the last, on the dev suite and the held-out-wording split.

Run from the repository root (one forward pass per (instruction, text), every layer's state at the last
prompt position stored; 9 minutes for the 11,137 pairs of both suites on a 2-core CPU, then seconds per readout):

    python benchmarks/layer_readouts.py --output out/layer_readouts.md [--model DIR] [--states out/layer_states.pt]

Readouts: the state at layer i as it is (the residual stream, what ``load_model(layer=i)`` embeds), the
same through the backbone's final norm (as the last layer is), and means of the normed states over a range of
layers. Printed like benchmarks/answer_readouts.py: per task, mteb's main score (triplets: harmonic mean of the
two aspects), the dev and held-out means, and the held-out minimum aspect accuracy.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from answer_readouts import StateStore, percent, score_readouts, suite_summary  # noqa: E402


@dataclass
class LayerReadout:
    name: str
    layers: tuple[int, ...]  # hidden-state indices averaged (0 = embeddings, num_layers = last)
    normed: bool = True  # through the final norm first (the last layer already is)


def readouts(n: int) -> list[LayerReadout]:
    single = [n - k for k in (1, 2, 3, 4, 6, 8, 10, 14, 18)]
    out = [LayerReadout(f"layer {n} (last, shipped)", (n,), normed=False)]
    out += [LayerReadout(f"layer {i} raw", (i,), normed=False) for i in single]
    out += [LayerReadout(f"layer {i} normed", (i,)) for i in single]
    out += [LayerReadout(f"mean of layers {n - k}-{n}, normed", tuple(range(n - k, n + 1))) for k in (2, 4, 8)]
    return out


class LayerStore(StateStore):
    """(instruction, text) -> every layer's state at the last prompt position, fp16 [layers + 1, hidden]."""

    def batch_states(self, ids: torch.Tensor, mask: torch.Tensor) -> list:
        from inbedder_st.backbones import causal

        out = self.module.model.base_model(
            input_ids=ids, attention_mask=mask, position_ids=causal.position_ids(mask),
            use_cache=False, output_hidden_states=True,
        )  # fmt: skip
        last = torch.stack([h[:, -1] for h in out.hidden_states], dim=1)  # left padding: -1 is the cue
        return [last[row].half().cpu().clone() for row in range(len(ids))]


class LayerModel:
    """What mteb_tasks.InstructionEncoder needs of a model: ``encode(texts, prompt=...)``."""

    def __init__(self, store: LayerStore, readout: LayerReadout):
        self.store, self.readout = store, readout
        # a float32 copy: Module.float() converts in place, which would change the model that computes states
        self.norm = copy.deepcopy(store.module.model.base_model.norm).float()

    def __getitem__(self, index):  # mteb_tasks.is_inbedder() probes model[0]
        return self.store.model[index]

    def encode(self, texts, prompt=None, **kwargs) -> np.ndarray:
        texts = list(texts)
        self.store.compute(texts, prompt)
        stacked = torch.stack([self.store.states[(prompt, t)] for t in texts]).float()
        vectors = []
        for i in self.readout.layers:
            h = stacked[:, i]
            if self.readout.normed and i != stacked.shape[1] - 1:
                with torch.inference_mode():
                    h = self.norm(h)
            vectors.append(torch.nn.functional.normalize(h, dim=-1) if len(self.readout.layers) > 1 else h)
        return torch.stack(vectors).mean(0).numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="a saved InBedder folder (default: the embedded default)")
    parser.add_argument("--tasks", nargs="+", default=["dev", "heldout"])
    parser.add_argument("--states", type=Path, default=Path("out/layer_states.pt"))
    parser.add_argument("--output", type=Path, default=Path("out/layer_readouts.md"))
    parser.add_argument("--only", nargs="*", help="readout names to run (default: all)")
    parser.add_argument("--device", default=None)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()

    import inbedder_st
    from inbedder_st.backbones import causal
    from mteb_tasks import get_tasks
    from mteb_tasks.heldout_tasks import HELDOUT_TASKS

    options = {"device": args.device} if args.device else {}
    model = inbedder_st.load_model(args.model, **options) if args.model else inbedder_st.load_model(**options)
    store = LayerStore(model, args.states, batch_size=args.batch_size)
    tasks = get_tasks(args.tasks)
    n = causal.num_layers(model[0].model)
    chosen = [r for r in readouts(n) if not args.only or r.name in args.only]
    models = {readout.name: LayerModel(store, readout) for readout in chosen}
    table, aspects = score_readouts(models, tasks, "layers", after_task=store.save)

    names = [task.metadata.name for task in tasks]
    others = [m for m in names if m not in HELDOUT_TASKS and not m.endswith("Triplets")]
    columns = ["mean dev triplet HM", *others, "mean held-out triplet HM", "lowest held-out aspect"]
    lines = ["| readout | " + " | ".join(columns) + " |", "|---|" + "---:|" * len(columns)]
    for r in table:
        summary = suite_summary(table[r], aspects[r], names)
        cells = [summary["dev"], *(table[r][m] for m in others), summary["heldout"], summary["lowest"]]
        lines.append(f"| {r} | " + " | ".join(map(percent, cells)) + " |")
    markdown = "\n".join(lines) + "\n\nPer task:\n\n" + json.dumps(table, indent=1) + "\n"
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(markdown, encoding="utf-8")
    print(markdown)


if __name__ == "__main__":
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    main()
