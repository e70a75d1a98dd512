#!/usr/bin/env bash
# Explain clusters on Sentiment Labelled Sentences (Amazon phones, IMDb movies, Yelp restaurants x
# negative/positive) under two instructions; compare V-measure against source and sentiment.
# MAX_TEXTS (default 900; "all" for the 3,000) picks a seeded sample, the same one for both instructions.
# Outputs: OUT/{what,feel}/report.md|report.json|clusters.png and OUT/table.md. Needs ../shared/data.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-out/explain-sls}
MAX_TEXTS=${MAX_TEXTS:-900}
SAMPLE=(); [ "$MAX_TEXTS" = all ] || SAMPLE=(--max-texts "$MAX_TEXTS")
PY=.venv/bin/python
$PY examples/explain_sls.py prepare "$OUT"
SOURCE=(--labels "source=$OUT/source.txt"); SENTIMENT=(--labels "sentiment=$OUT/sentiment.txt")
# K = the number of classes of the label the instruction asks about: 3 sources, 2 sentiments.
# That label goes first: the plot's marker shapes show the first --labels set.
.venv/bin/inbedder explain --input "$OUT/texts.txt" --prompt "What is being reviewed?" --clusters 3 \
    --out "$OUT/what" "${SOURCE[@]}" "${SENTIMENT[@]}" "${SAMPLE[@]}"
.venv/bin/inbedder explain --input "$OUT/texts.txt" --prompt "How does the writer feel?" --clusters 2 \
    --out "$OUT/feel" "${SENTIMENT[@]}" "${SOURCE[@]}" "${SAMPLE[@]}"
$PY examples/explain_sls.py table "$OUT"
