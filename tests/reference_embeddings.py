"""Reference outputs for refactoring: every pooling of every family, saved once, compared bit for bit later.

``python tests/reference_embeddings.py`` writes ``tests/fixtures/reference_embeddings.npz`` (run it only at a
commit whose outputs are the reference; the file records which). ``tests/test_reference_embeddings.py``
recomputes everything and compares.

Covered: the real default model (causal) under each pooling and a few settings that take other code paths
(a middle layer, stopword filtering, sampling, answer_steps="answer"), ``model.encode``, ``encode_multi``,
``answer`` and the explain pass; the tiny masked, seq2seq and causal models of ``tiny_models.py`` (seeded)
under each of their poolings, with their answers.
"""

from __future__ import annotations

import platform
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
OUTPUT = HERE / "fixtures" / "reference_embeddings.npz"
TOKENIZERS = HERE / "fixtures" / "reference_tokenizers"

TEXTS = ["I'm furious, you charged me twice!", "Thanks, my refund arrived.", "My new card never came, where is it?"]
INSTRUCTIONS = ["How does the customer feel?", "What does the customer need?"]
# (name, module settings) for the default model; each is read through module.preprocess + forward.
DEFAULT_CASES = [
    ("fst_gen", {"pooling": "fst_gen"}),
    ("avg_gen", {"pooling": "avg_gen"}),
    ("last_gen", {"pooling": "last_gen"}),
    ("avg_ppt", {"pooling": "avg_ppt"}),
    ("avg_all", {"pooling": "avg_all"}),
    ("answer_dist", {"pooling": "answer_dist"}),
    ("answer_sparse", {"pooling": "answer_sparse"}),
    ("answer_dist_steps", {"pooling": "answer_dist", "answer_steps": "answer"}),
    ("fst_gen_layer", {"pooling": "fst_gen", "layer": -4}),
    ("avg_gen_layer", {"pooling": "avg_gen", "layer": 10}),
    ("avg_gen_stopwords", {"pooling": "avg_gen", "filter_stopwords": True, "max_new_tokens": 5}),
    ("last_gen_sampled", {"pooling": "last_gen", "do_sample": True, "max_new_tokens": 4}),
]
TINY_TEXTS = ["I love cats.", "The customer is angry about the refund and wants the card delivered today.", "dogs"]
TINY_INSTRUCTION = "What animal is it?"
# The answer-space readouts are covered on the default model.
TINY_POOLINGS = {
    "masked": ["avg_gen", "avg_ppt", "avg_all"],
    "seq2seq": ["fst_gen", "avg_gen", "last_gen", "avg_ppt"],
    "causal": ["fst_gen", "avg_gen", "last_gen", "avg_ppt", "avg_all"],
}


def machine() -> dict[str, str]:
    """What decides float rounding on a CPU: bit-identity is only promised on the same machine and stack."""
    import transformers

    return {
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "threads": str(torch.get_num_threads()),
        "machine": platform.machine(),
    }


def module_outputs(model, texts, instruction) -> torch.Tensor:
    """The InBedder module's own output (before any later module), float32 on the CPU."""
    module = model[0]
    features = module.preprocess(texts, prompt=instruction)
    with torch.inference_mode():
        return module.forward(dict(features))["sentence_embedding"].float().cpu()


def apply(module, settings: dict) -> dict:
    saved = {key: getattr(module, key) for key in module.config_keys}
    for key, value in settings.items():
        setattr(module, key, value)
    return saved


def store(out: dict, name: str, vectors: torch.Tensor) -> None:
    """Dense vectors as they are; vocabulary-sized sparse ones as their nonzeros (a few KB, not MB)."""
    if vectors.shape[-1] > 4096:
        rows, columns = vectors.nonzero(as_tuple=True)
        out[f"{name}/rows"] = rows.numpy().astype(np.int32)
        out[f"{name}/columns"] = columns.numpy().astype(np.int32)
        out[f"{name}/values"] = vectors[rows, columns].numpy()
        out[f"{name}/shape"] = np.array(vectors.shape)
    else:
        out[name] = vectors.numpy()


def default_outputs(model) -> dict[str, np.ndarray]:
    import inbedder_st
    from inbedder_st.explain.states import answers_and_embeddings

    module, out = model[0], {}
    for name, settings in DEFAULT_CASES:
        saved = apply(module, settings)
        try:
            for j, instruction in enumerate(INSTRUCTIONS):
                store(out, f"default/{name}/{j}", module_outputs(model, TEXTS, instruction))
        finally:
            apply(module, saved)
    for j, instruction in enumerate(INSTRUCTIONS):
        out[f"default/encode/{j}"] = model.encode(TEXTS, prompt=instruction, batch_size=2)
        out[f"default/answer/{j}"] = np.array(inbedder_st.answer(model, TEXTS, prompt=instruction))
    out["default/encode_multi/fst_gen"] = inbedder_st.encode_multi(model, TEXTS, INSTRUCTIONS, batch_size=2)
    saved = apply(module, {"pooling": "answer_dist"})
    try:
        out["default/encode_multi/answer_dist"] = inbedder_st.encode_multi(model, TEXTS, INSTRUCTIONS)
    finally:
        apply(module, saved)
    saved = apply(module, {"pooling": "avg_gen"})
    try:
        answers, vectors = answers_and_embeddings(model, TEXTS, INSTRUCTIONS[0], show_progress_bar=False)
    finally:
        apply(module, saved)
    out["default/explain/answers"], out["default/explain/vectors"] = np.array(answers), vectors
    return out


def tiny_outputs(folder: Path) -> dict[str, np.ndarray]:
    import inbedder_st
    from tiny_models import BUILDERS

    out = {}
    for name, build in BUILDERS.items():
        built = build(folder / name)
        for kept in TOKENIZERS.glob(f"{name}/*"):  # a Unigram tokenizer's training is not reproducible
            (built / kept.name).write_bytes(kept.read_bytes())
        model = inbedder_st.load_model(str(built), device="cpu")
        module = model[0]
        seeded_weights(module.model)
        for pooling in TINY_POOLINGS[module.family]:
            saved = apply(module, {"pooling": pooling})
            try:
                store(out, f"tiny/{name}/{pooling}", module_outputs(model, TINY_TEXTS, TINY_INSTRUCTION))
            finally:
                apply(module, saved)
        out[f"tiny/{name}/answer"] = np.array(inbedder_st.answer(model, TINY_TEXTS, prompt=TINY_INSTRUCTION))
    return out


def seeded_weights(backbone) -> None:
    """Overwrite every weight from a seeded generator: the tiny models' own initialisation is not reproducible."""
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for _, parameter in sorted(backbone.named_parameters()):
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.2)


def compute(model) -> dict[str, np.ndarray]:
    with tempfile.TemporaryDirectory() as folder:
        return {**default_outputs(model), **tiny_outputs(Path(folder))}


def main() -> None:
    import inbedder_st

    sys.path.insert(0, str(HERE))
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=HERE).stdout.strip()
    outputs = compute(inbedder_st.load_model(device="cpu"))
    meta = {**machine(), "commit": commit}
    np.savez_compressed(OUTPUT, **outputs, **{f"meta/{k}": np.array(v) for k, v in meta.items()})
    print(f"{OUTPUT}: {len(outputs)} arrays, {OUTPUT.stat().st_size / 1e3:.0f} KB, {meta}")


if __name__ == "__main__":
    main()
