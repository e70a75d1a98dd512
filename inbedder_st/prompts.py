"""Which instruction a call means: sentence-transformers' prompt rules, applied before anything is keyed on it.

``SentenceTransformer.encode`` takes ``prompt`` first, then ``prompts[prompt_name]``, then, when neither is
given, ``prompts[default_prompt_name]``. Code that looks at the instruction before ``encode`` does (the
embedding cache, ``encode_multi``, ``answer``) resolves it here the same way, so it never keys or computes
under another instruction than ``encode`` would use. (sentence-transformers 6 has these rules only in the private
``BaseModel._resolve_prompt``, which also maps an unknown ``default_prompt_name`` to no prompt; here it raises.)
"""

from __future__ import annotations


def resolve_prompt(model, prompt: str | None = None, prompt_name: str | None = None) -> str | None:
    """The prompt ``model.encode(prompt=prompt, prompt_name=prompt_name)`` uses (None: no prompt)."""
    if prompt is not None:
        return prompt
    name = prompt_name if prompt_name is not None else getattr(model, "default_prompt_name", None)
    if name is None:
        return None
    prompts = getattr(model, "prompts", None) or {}
    if name not in prompts:
        raise ValueError(f"Prompt name {name!r} not found. Valid choices: {sorted(prompts)}.")
    return prompts[name]


def effective_instruction(model, prompt: str | None) -> str | None:
    """What the model finally reads for a resolved ``prompt``: an InBedder puts its default instruction in place
    of a missing or blank one; any other model gets the prompt as it is."""
    from inbedder_st.module import InBedder

    first = next(iter(model), None) if hasattr(model, "__iter__") else None
    return first.instruction_for(prompt) if isinstance(first, InBedder) else prompt
