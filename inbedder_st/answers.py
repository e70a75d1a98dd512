"""``answer``: the short answers an InBedder generates for texts under an instruction."""

from __future__ import annotations

import torch
from tqdm.auto import tqdm

from inbedder_st.inputs import check_texts
from inbedder_st.length_batches import longest_first_batches
from inbedder_st.prompts import resolve_prompt


@torch.inference_mode()
def answer(
    model,
    texts: list[str],
    prompt: str | None = None,
    prompt_name: str | None = None,
    batch_size: int = 32,
    show_progress_bar: bool | None = None,
) -> list[str]:
    """Generate each text's answer to the instruction (greedy unless the model samples), in input order.

    The answer is the generated text only (no prompt), special tokens removed, stripped; it uses the
    model's ``max_new_tokens`` and sampling settings, whatever its pooling.
    """
    module = model[0]
    texts = check_texts(texts)
    instruction = resolve_prompt(model, prompt, prompt_name)
    if show_progress_bar is None:
        show_progress_bar = len(texts) > batch_size
    answers: list[str] = [""] * len(texts)
    module.eval()
    batches = longest_first_batches([len(text) for text in texts], batch_size)
    for batch in tqdm(batches, desc="Answers", disable=not show_progress_bar):
        features = module.preprocess([texts[i] for i in batch], prompt=instruction)
        features = {k: v.to(model.device) for k, v in features.items()}
        for i, text in zip(batch, module.decode_answers(module.generate(**features))):
            answers[i] = text
    return answers
