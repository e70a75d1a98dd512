"""The demo behind ``inbedder demo``: the same texts, two instructions, two different neighbourhoods."""

from __future__ import annotations

from inbedder_st.answers import answer

# Four customer messages that differ along two axes: the feeling (angry / happy) and the need (refund / card).
TEXTS = [
    "I'm furious, you charged me twice and I still have no refund!",
    "Thank you so much, my refund arrived this morning.",
    "This is ridiculous, my new card still hasn't been delivered.",
    "Great news, my new card came in the mail today!",
]
# Which pairs each instruction should bring together: (0,2) and (1,3) share a feeling; (0,1), (2,3) a need.
INSTRUCTIONS = {
    "How does the customer feel?": [(0, 2), (1, 3)],
    "What does the customer need?": [(0, 1), (2, 3)],
}


def similarity_table(model, instruction: str) -> list[list[float]]:
    embeddings = model.encode(TEXTS, prompt=instruction, normalize_embeddings=True, convert_to_tensor=True)
    return (embeddings @ embeddings.T).tolist()


def run_demo(model, print_fn=print) -> dict[str, bool]:
    """Print similarities and answers per instruction; return whether each instruction's pairs won."""
    verdicts = {}
    for instruction, pairs in INSTRUCTIONS.items():
        sims = similarity_table(model, instruction)
        answers = answer(model, TEXTS, prompt=instruction)
        print_fn(f"\nInstruction: {instruction}")
        print_fn("      " + "  ".join(f"[{j}]  " for j in range(len(TEXTS))))
        for i, row in enumerate(sims):
            print_fn(f"[{i}] " + " ".join(f"{value:6.4f}" for value in row) + f"   {TEXTS[i][:48]!r} -> {answers[i]!r}")
        expected = sum(sims[i][j] for i, j in pairs) / len(pairs)
        others = [sims[i][j] for i in range(len(TEXTS)) for j in range(i + 1, len(TEXTS)) if (i, j) not in pairs]
        verdicts[instruction] = expected > max(others)
        print_fn(
            f"mean sim of the pairs this instruction should group {pairs}: {expected:.4f}; "
            f"best other pair: {max(others):.4f} -> {'follows' if verdicts[instruction] else 'does NOT follow'}"
        )
    return verdicts
