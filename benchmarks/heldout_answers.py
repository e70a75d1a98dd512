"""What a model answers under the held-out triplet wordings: the spread of its answers, per wording.

The held-out triplet tasks score the embedding; this shows why a wording fails. A wording the model does not
follow gets one answer for almost every text (the first option of a listed either/or question, or a label of
another dataset), and the fst_gen embeddings of those texts then agree whatever the texts say. For each
held-out triplet wording (``mteb_tasks/heldout_wordings.json``): a seeded sample of its collection's texts,
the most common answers, the share of the most common one and the number of distinct answers. Run from the
repository root (about 30 s per model on a 2-core CPU at 40 texts):

    python benchmarks/heldout_answers.py --model default out/my-run --texts 40 --output out/heldout_answers.md
"""

from __future__ import annotations

import argparse
import random
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from inbedder_st.answers import answer  # noqa: E402
from inbedder_st.evaluation import resolve_model  # noqa: E402
from mteb_tasks import dev_data  # noqa: E402
from mteb_tasks.heldout_tasks import COLLECTIONS, heldout_wordings  # noqa: E402


def wordings() -> list[tuple[str, str, str, str]]:
    """(collection, aspect, style, wording) of every held-out triplet wording."""
    return [(collection, aspect, style, wording)
            for collection, variants in heldout_wordings()["triplets"].items()
            for aspects in variants.values()
            for aspect, (style, wording) in aspects.items()]  # fmt: skip


def spread(answers: list[str], top: int = 4) -> tuple[str, float, int]:
    counts = Counter(answers)
    common = ", ".join(f"{text!r} {count}" for text, count in counts.most_common(top))
    return common, counts.most_common(1)[0][1] / len(answers), len(counts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", nargs="+", default=["default"], help="'default', 'zero-shot' or saved InBedder folders (as inbedder evaluate)")
    parser.add_argument("--texts", type=int, default=40, help="texts sampled per collection (seeded)")
    parser.add_argument("--data", help="shared data folder (default: $INBEDDER_DATA or ../shared/data)")
    parser.add_argument("--output", type=Path, help="also write the table here (markdown)")
    args = parser.parse_args()
    root = dev_data.data_root(args.data)
    texts = {}
    for collection in COLLECTIONS:
        rows = COLLECTIONS[collection][0](root)
        texts[collection] = [row["text"] for row in random.Random(0).sample(rows, min(args.texts, len(rows)))]
    lines = [
        f"Answers to the held-out triplet wordings, {args.texts} seeded texts per collection (`benchmarks/heldout_answers.py`).",
        "",
        "| model | collection | aspect | style | wording | most common answers | top share | distinct |",
        "|---|---|---|---|---|---|---:|---:|",
    ]
    for name in args.model:
        model = resolve_model(name, device="cpu").model  # the model specs of `inbedder evaluate`
        for collection, aspect, style, wording in wordings():
            common, share, distinct = spread(answer(model, texts[collection], prompt=wording, show_progress_bar=False))
            line = f"| {name} | {collection} | {aspect} | {style} | {wording} | {common} | {share:.2f} | {distinct} |"
            print(line, flush=True)
            lines.append(line)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
