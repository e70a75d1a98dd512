"""report.md and report.json for an ExplainedClustering."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from inbedder_st.explain.cluster import ExplainedClustering


def report_dict(result: ExplainedClustering, notes: list[str] | None = None) -> dict:
    """Everything but the embeddings, JSON-ready; ``texts`` lists every text with its answer and cluster."""
    rows = []
    for i, (text, reply, k) in enumerate(zip(result.texts, result.answers, result.assignment)):
        row = {"index": i, "text": text, "answer": reply, "cluster": k}
        row.update({name: values[i] for name, values in result.gold_labels.items()})
        rows.append(row)
    return {
        "instruction": result.instruction,
        "model": result.model_name,
        "n_texts": len(result.texts),
        "n_clusters": result.n_clusters,
        "seed": result.seed,
        "notes": list(notes or []),
        "scores": {name: asdict(score) for name, score in result.scores.items()},
        "clusters": [asdict(c) for c in result.clusters],
        "texts": rows,
    }


def _cell(text: str, limit: int = 160) -> str:
    text = " ".join(text.split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def report_markdown(result: ExplainedClustering, notes: list[str] | None = None, plot_name: str | None = None) -> str:
    lines = [
        f"# Clusters under the instruction: “{result.instruction}”",
        "",
        f"{len(result.texts)} texts, {result.n_clusters} clusters (KMeans, n_init=10, seed {result.seed}), "
        f"model `{result.model_name}`.",
    ]
    lines += [f"- {note}" for note in notes or []]
    if result.scores:
        lines += ["", "## Agreement with the gold labels", "", "| label set | classes | V-measure | homogeneity | completeness | purity |",
                  "|---|---:|---:|---:|---:|---:|"]  # fmt: skip
        for name, s in result.scores.items():
            lines.append(
                f"| {name} | {s.n_classes} | {s.v_measure:.3f} | {s.homogeneity:.3f} | {s.completeness:.3f} | {s.purity:.3f} |"
            )
    if plot_name:
        lines += ["", f"![PCA of the embeddings, coloured by cluster]({plot_name})"]
    lines += ["", "## Overview", "", "| cluster | size | keywords (from the answers) | LM-head contrast tokens |", "|---:|---:|---|---|"]
    for c in result.clusters:
        words = ", ".join(k.word for k in c.keywords[:6])
        lines.append(f"| {c.cluster} | {c.size} | {_cell(words)} | {_cell(', '.join(c.contrast_tokens[:6]))} |")
    for c in result.clusters:
        lines += ["", f"## Cluster {c.cluster} ({c.size} texts)", ""]
        keywords = ", ".join(f"{k.word} ({k.answers})" for k in c.keywords)
        lines.append(f"- **Keywords** (answers containing each): {keywords or '(none: the answers hold no words)'}")
        lines.append(f"- **Contrast tokens**: {', '.join(c.contrast_tokens) or '(none: they need a causal LM head)'}")
        lines.append("- **Most frequent answers**: " + ", ".join(f"“{a}” ×{n}" for a, n in c.top_answers))
        for name, counts in c.labels.items():
            made_up = ", ".join(f"{label} {n}" for label, n in counts.items())
            lines.append(f"- **{name}**: {made_up} (purity {c.purity.get(name, 0):.2f})")
        lines += ["", "Texts nearest the centroid, with their answers:", ""]
        lines += [f"{rank}. {_cell(result.texts[i])} → “{_cell(result.answers[i], 60)}”" for rank, i in enumerate(c.nearest, 1)]
    return "\n".join(lines) + "\n"


def write_reports(result: ExplainedClustering, out_dir: str | Path, notes: list[str] | None = None,
                  plot_name: str | None = None) -> tuple[Path, Path]:  # fmt: skip
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    markdown, data = out / "report.md", out / "report.json"
    markdown.write_text(report_markdown(result, notes, plot_name), encoding="utf-8")
    data.write_text(json.dumps(report_dict(result, notes), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return markdown, data
