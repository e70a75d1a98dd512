"""``inbedder explain``: cluster a file of texts under an instruction.

Writes report.md, report.json, clusters.png (PCA plot) and embeddings.npy into --out.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

from inbedder_st.cli import CliError, add_command, add_texts, load, read_texts

PLOT_NAME = "clusters.png"


def register(commands) -> None:
    sub = add_command(
        commands, "explain", run,
        "Cluster texts under an instruction and explain each cluster from the model's answers "
        "(keywords, LM-head contrast tokens, nearest texts); writes report.md, report.json and a PCA plot.",
    )  # fmt: skip
    add_texts(sub)
    sub.add_argument("--clusters", type=int, required=True, help="number of clusters K")
    sub.add_argument("--out", required=True, help="folder for report.md, report.json, clusters.png and embeddings.npy")
    sub.add_argument(
        "--labels", action="append", default=[], metavar="[NAME=]FILE",
        help="gold labels, one per line, one per input text (repeat for several label sets): purity and V-measure",
    )  # fmt: skip
    sub.add_argument("--seed", type=int, default=0, help="KMeans seed (and the --max-texts sample)")
    sub.add_argument(
        "--max-texts", type=int,
        help="cluster a seeded random sample of this many texts (input order kept); the report says so",
    )  # fmt: skip
    sub.add_argument("--top-keywords", type=int, default=10)
    sub.add_argument("--top-texts", type=int, default=5, help="texts nearest each centroid to show")


def read_labels(specs: list[str], n_texts: int) -> dict[str, list[str]]:
    labels = {}
    for spec in specs:
        name, _, path = spec.partition("=") if "=" in spec and not Path(spec).exists() else ("", "", spec)
        name = name or (Path(path).stem if len(specs) > 1 else "label")
        values = read_texts(path)
        if len(values) != n_texts:
            raise CliError(f"--labels {spec!r} has {len(values)} lines for {n_texts} input texts; give one label per text")
        if name in labels:
            raise CliError(f"--labels name {name!r} is given twice")
        labels[name] = values
    return labels


def sample(count: int, max_texts: int | None, seed: int) -> list[int]:
    if max_texts is None or max_texts >= count:
        return list(range(count))
    if max_texts < 1:
        raise CliError(f"--max-texts must be >= 1, got {max_texts}")
    return sorted(random.Random(seed).sample(range(count), max_texts))


def run(args) -> None:
    import numpy as np

    from inbedder_st.prompts import resolve_prompt
    from inbedder_st.explain import cluster, plot_clusters, write_reports

    texts = read_texts(args.input)
    if not texts:
        raise CliError(f"--input {args.input!r} holds no texts")
    labels = read_labels(args.labels, len(texts))
    if not 1 <= args.clusters <= len(texts):
        raise CliError(f"--clusters {args.clusters} must be between 1 and the number of input texts ({len(texts)})")
    chosen = sample(len(texts), args.max_texts, args.seed)
    notes = []
    if len(chosen) < len(texts):
        notes.append(f"a seeded random sample (--max-texts {args.max_texts}, seed {args.seed}) of "
                     f"{len(chosen)} of the {len(texts)} input texts was clustered")  # fmt: skip
        print(f"explain: clustering {len(chosen)} of {len(texts)} texts (--max-texts)", file=sys.stderr)
        texts = [texts[i] for i in chosen]
        labels = {name: [values[i] for i in chosen] for name, values in labels.items()}
        if args.clusters > len(texts):
            raise CliError(f"--clusters {args.clusters} is more than the {len(texts)} sampled texts")

    model = load(args)
    prompt = resolve_prompt(model, args.prompt, args.prompt_name)  # ValueError names an unknown --prompt-name
    result = cluster(
        model, texts, prompt, args.clusters, labels=labels or None, seed=args.seed, top_keywords=args.top_keywords,
        top_texts=args.top_texts, batch_size=args.batch_size,
    )  # fmt: skip
    out = Path(args.out)
    plot = plot_clusters(result, out / PLOT_NAME)
    markdown, data = write_reports(result, out, notes, plot_name=PLOT_NAME)
    np.save(out / "embeddings.npy", result.embeddings)  # row i = report.json's texts[i]: re-cluster without the model
    for c in result.clusters:
        print(f"cluster {c.cluster} ({c.size}): {', '.join(k.word for k in c.keywords[:6])}")
    for name, s in result.scores.items():
        print(f"V-measure vs {name}: {s.v_measure:.3f} (purity {s.purity:.3f})")
    print(f"explain: wrote {markdown}, {data} and {plot}", file=sys.stderr)
