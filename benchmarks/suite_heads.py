"""Fit one instruction head per instruction of a suite (dev or held-out wordings), on texts disjoint from every
text that suite tests on.

Run from the repository root (the teacher reads --sample texts per instruction: 8 x 1,000 texts for dev, 15 x
1,000 for heldout, some minutes per instruction at ~12-25 texts/s on a 2-core CPU):

    python benchmarks/suite_heads.py --output out/dev-heads [--suite dev] [--sample 1000] [--kind linear]
                                     [--objective embedding] [--embedding-cache DIR] [--identity INSTRUCTION] [--resume]
    inbedder evaluate --model minilm --heads out/dev-heads --tasks dev --output out/eval-dev

The fitting texts come from ``mteb_tasks.head_corpora.head_corpora`` (train splits, and the rows of the
dual-aspect tables, FewRel and TweetEval sentiment that the suite's tasks do not sample). Each head is saved in OUTPUT/<instruction slug>/; OUTPUT/heads.json
lists them with their fit scores (and any instruction no head could be fitted for, with the reason).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def slug(instruction: str) -> str:
    words = re.findall(r"[a-z0-9]+", instruction.lower())
    return "-".join(words)[:48].rstrip("-") + "-" + hashlib.sha256(instruction.encode()).hexdigest()[:6]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", required=True)
    parser.add_argument("--suite", default="dev", choices=["dev", "heldout"], help="whose instructions to fit heads for")
    parser.add_argument("--sample", type=int, default=1000)
    parser.add_argument("--kind", default="linear")
    parser.add_argument("--objective", default="embedding")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", default=None, help="shared data folder (default: $INBEDDER_DATA or ../shared/data)")
    parser.add_argument("--embedding-cache", default=None, help="EmbeddingCache folder for the teacher's embeddings")
    parser.add_argument("--only", action="append", help="fit only this instruction (repeatable)")
    parser.add_argument("--resume", action="store_true", help="keep the heads OUTPUT already holds; fit the others")
    parser.add_argument(
        "--identity", action="append", default=[],
        help="write an identity head (the base model as it is) for this instruction instead of fitting one (repeatable)",
    )  # fmt: skip
    args = parser.parse_args()

    import inbedder_st
    from inbedder_st.heads import fit_head, identity_head, is_head_folder, resolve_base, save_head
    from mteb_tasks.head_corpora import head_corpora, suite_instructions

    started = time.monotonic()
    corpora = head_corpora(args.data, args.suite)
    asked = suite_instructions(args.data, args.suite)
    unknown = [instruction for instruction in args.identity + (args.only or []) if instruction not in corpora]
    if unknown:
        parser.error(f"not a {args.suite} instruction: {unknown}; its instructions: {list(corpora)}")
    teacher = inbedder_st.load_model()
    base, _ = resolve_base("minilm")
    cache = None
    if args.embedding_cache:
        from inbedder_st.cache import EmbeddingCache

        cache = EmbeddingCache(args.embedding_cache)
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    listing = json.loads((output / "heads.json").read_text()) if (output / "heads.json").is_file() else {}
    for instruction, texts in corpora.items():
        if args.only and instruction not in args.only:
            continue
        if args.resume and (listing.get(instruction) or {}).get("folder") and is_head_folder(output / slug(instruction)):
            print(f"[{instruction}] kept (--resume)", file=sys.stderr)
            continue
        print(f"[{instruction}] {len(texts)} texts disjoint from the {args.suite} tests; asked by {asked[instruction]}", file=sys.stderr)
        if instruction in args.identity:
            head = identity_head(instruction, base=base)
        else:
            try:
                head = fit_head(
                    teacher, texts, instruction, base=base, sample=args.sample, kind=args.kind,
                    objective=args.objective, seed=args.seed, cache=cache,
                    progress=lambda line: print(f"  {line}", file=sys.stderr, flush=True),
                )  # fmt: skip
            except ValueError as error:  # e.g. answers that form one group: no head for this instruction
                print(f"  no head: {error}", file=sys.stderr, flush=True)
                listing[instruction] = {"folder": None, "error": str(error), "tasks": asked[instruction]}
                continue
        folder = output / slug(instruction)
        if is_head_folder(folder):  # a rerun: no stale module folder of the earlier head may stay
            shutil.rmtree(folder)
        save_head(head, folder)
        listing[instruction] = {"folder": folder.name, "corpus_texts": len(texts), "tasks": asked[instruction],
                                **{k: v for k, v in head.head_info.__dict__.items() if k in ("sample_size", "kind", "objective", "fit_scores", "fit_seconds")}}  # fmt: skip
        (output / "heads.json").write_text(json.dumps(listing, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{len(listing)} heads in {output} ({time.monotonic() - started:.0f} s)", file=sys.stderr)


if __name__ == "__main__":
    main()
