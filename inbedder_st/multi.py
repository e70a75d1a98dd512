"""``encode_multi``: many instructions over one corpus, each text's shared prompt prefix computed once.

Segment-wise tokenization (docs/design.md) makes the ids of everything before the instruction the same for every
instruction. Under the QA template (text first) a prompt is ``shared(text) + tail(text, instruction)``
where ``shared`` = leading specials + prefix + text + the cue before the instruction and ``tail`` = the
instruction + the answer cue, a dozen tokens. We run ``shared`` once per text with a key/value cache and then
only the tails, one instruction at a time, cropping the tail back off the cache after each ("text-major").

Where a template puts the instruction first (Alpaca), the shared part is ``prefix + instruction + cue`` for all
texts of one instruction ("instruction-major"); it is short, so reusing it saves little (see the README's
benchmark) and ``reuse="auto"`` runs plain per-instruction ``encode`` there.

The split point of each group is the longest common prefix of its real prompt ids (the same ids
``model.encode`` builds), so truncated texts -- whose cut depends on the instruction's length -- stay exact.

Positions and masks: the shared part is left-padded like ``encode``'s batches, its position ids come from its
mask; a tail's positions continue from its row's shared length, and tails are left-padded *after* the shared
part (the pads sit between the two, masked). The last column is every prompt's last token, whose state at
``layer`` is the fst_gen embedding.

Memory: one batch holds its shared parts' key/value cache (``batch_size x shared_len x 2 x layers x kv_heads x
head_dim`` values: 46 KB per token for SmolLM2-135M in fp32), a second copy while a tail is appended, and one
forward's activations. It grows with ``batch_size`` and text length, never with the number of texts or
instructions. Measured peak above the loaded model (SmolLM2-135M, fp32, 10 instructions, texts of ~170
tokens): 0.36 GB at batch_size 8, 0.64 GB at 16, 1.16 GB at 32 (``encode`` alone: 0.13 / 0.23 / 0.36 GB).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from inbedder_st import answer_space
from inbedder_st.backbones import causal
from inbedder_st.inputs import check_texts
from inbedder_st.length_batches import longest_first_batches
from inbedder_st.prompt_ids import pad
from inbedder_st.prompts import resolve_prompt

logger = logging.getLogger(__name__)

REUSE_MODES = ("auto", "text", "instruction", "none")


@dataclass
class PromptGrid:
    """``ids[j][t]``: the prompt ids of text t under instruction j, exactly as ``model.encode`` builds them."""

    ids: list[list[list[int]]]

    @property
    def n_instructions(self) -> int:
        return len(self.ids)

    @property
    def n_texts(self) -> int:
        return len(self.ids[0])


def common_prefix_length(id_lists: Sequence[Sequence[int]]) -> int:
    """Length of the longest common prefix, leaving at least one token of every list to compute."""
    shortest = min(len(ids) for ids in id_lists)
    first = id_lists[0]
    for position in range(shortest - 1):
        if any(ids[position] != first[position] for ids in id_lists):
            return position
    return max(shortest - 1, 0)


def encode_multi(
    model,
    texts: list[str],
    prompts: Sequence[str | None],
    *,
    batch_size: int = 32,
    normalize_embeddings: bool = False,
    show_progress_bar: bool | None = None,
    truncate_dim: int | None = None,
    reuse: str = "auto",
) -> np.ndarray:
    """Embeddings of every text under every instruction: ``[len(prompts), len(texts), dim]`` float32.

    Equal to ``model.encode(texts, prompt=p)`` for each ``p`` (up to float rounding), for an InBedder with a
    causal backbone and fst_gen pooling, or answer_dist / answer_sparse read from the first answer step
    (answer_sparse returns a sparse COO torch tensor of that shape, with ``answer_top_k`` entries per row).
    A None prompt means what it means to ``model.encode``: the model's ``default_prompt_name`` if it has one,
    else the module's default instruction; ``truncate_dim`` (default: the model's) cuts the embeddings as
    ``encode`` does. ``reuse``: "text" (share each text's prefix across instructions),
    "instruction" (share each instruction's prefix across texts), "none" (plain ``encode`` per instruction)
    or "auto" ("text" for text-first templates, else "none": the measured choice).
    """
    module = _checked_module(model)
    texts = check_texts(texts)
    prompts = [resolve_prompt(model, p) for p in _checked_prompts(prompts)]
    if truncate_dim is None:
        truncate_dim = getattr(model, "truncate_dim", None)
    if reuse not in REUSE_MODES:
        raise ValueError(f"Unknown reuse {reuse!r}. Valid choices: {list(REUSE_MODES)}.")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}.")
    if reuse == "auto":
        reuse = "text" if module.prompt_tokenizer.segments.input_first else "none"
    dim = model.get_embedding_dimension()
    sparse = module.pooling == "answer_sparse"
    if truncate_dim is not None and not sparse:
        dim = min(dim, truncate_dim)
    if not texts:
        if sparse:
            return torch.sparse_coo_tensor(torch.zeros((3, 0), dtype=torch.long), torch.zeros(0), (len(prompts), 0, dim))
        return np.zeros((len(prompts), 0, dim), dtype=np.float32)
    if show_progress_bar is None:
        show_progress_bar = len(texts) * len(prompts) > batch_size

    if reuse == "none" and sparse:
        encoded = [
            model.encode(texts, prompt=p, batch_size=batch_size, show_progress_bar=show_progress_bar, convert_to_tensor=True)
            for p in prompts
        ]
        return torch.stack([e.cpu() if e.is_sparse else e.cpu().to_sparse() for e in encoded]).coalesce()
    if reuse == "none":
        return np.stack(
            [
                model.encode(
                    texts, prompt=p, batch_size=batch_size, normalize_embeddings=normalize_embeddings,
                    show_progress_bar=show_progress_bar, convert_to_numpy=True, truncate_dim=truncate_dim,
                )  # fmt: skip
                for p in prompts
            ]
        ).astype(np.float32)

    instructions = [module.instruction_for(p) for p in prompts]
    unique = list(dict.fromkeys(instructions))  # a repeated instruction (or None and "") is computed once
    grid = build_grid(module, texts, unique)
    module.eval()
    with torch.inference_mode():
        if reuse == "text":
            states = _text_major(module, grid, batch_size, show_progress_bar)
        else:
            states = _instruction_major(module, grid, batch_size, show_progress_bar)
        states = states[[unique.index(i) for i in instructions]].reshape(-1, states.shape[-1])
        if sparse:
            return _sparse_readout(module, states, (len(prompts), len(texts)))
        embeddings = _finish(model, _dense_readout(module, states), normalize_embeddings, truncate_dim)
    return embeddings.reshape(len(prompts), len(texts), -1).cpu().numpy().astype(np.float32)


READOUT_CHUNK = 256  # rows read through the LM head at once ([chunk, vocab] fp32: 50 MB for SmolLM2)


def _answer_probabilities(module, states: torch.Tensor) -> torch.Tensor:
    lm_head = module.model.get_output_embeddings()
    return answer_space.answer_distribution(lm_head(states), module.answer_dropped, module.answer_temperature)


def _readout(module, probs: torch.Tensor) -> torch.Tensor:
    return causal.answer_readout(module.model, module.pooling, probs, module.answer_top_k)


def _dense_readout(module, states: torch.Tensor) -> torch.Tensor:
    """fst_gen: the states themselves; answer_dist: their expected answer-token embeddings."""
    if module.pooling == "fst_gen":
        return states
    chunks = states.split(READOUT_CHUNK)
    return torch.cat([_readout(module, _answer_probabilities(module, chunk)) for chunk in chunks])


def _sparse_readout(module, states: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """answer_sparse: a sparse COO tensor [len(prompts), len(texts), vocab], one chunk of rows at a time."""
    m, n = shape
    indices, values = [], []
    for start in range(0, states.shape[0], READOUT_CHUNK):
        vectors = _readout(module, _answer_probabilities(module, states[start : start + READOUT_CHUNK]))
        rows, columns = vectors.nonzero(as_tuple=True)
        flat = rows + start
        indices.append(torch.stack([flat // n, flat % n, columns]).cpu())
        values.append(vectors[rows, columns].float().cpu())
    size = (m, n, module.vocab_size)
    return torch.sparse_coo_tensor(torch.cat(indices, 1), torch.cat(values), size, check_invariants=True).coalesce()


def build_grid(module, texts: list[str], instructions: list[str]) -> PromptGrid:
    ids = []
    for instruction in instructions:
        built = module.prompt_tokenizer.build(texts, instruction)
        if built.n_truncated:
            logger.warning(
                "%d of %d texts were longer than max_length=%d allows under instruction %r and were cut at "
                "their end (the instruction and answer cue are kept).",
                built.n_truncated, len(texts), module.max_length, instruction,
            )  # fmt: skip
        ids.append(built.ids)
    return PromptGrid(ids)


def _text_major(module, grid: PromptGrid, batch_size: int, progress: bool) -> torch.Tensor:
    """[m, n, H]: per batch of texts, one pass over their shared parts, then one short pass per instruction."""
    m, n = grid.n_instructions, grid.n_texts
    cuts = [common_prefix_length([grid.ids[j][t] for j in range(m)]) for t in range(n)]
    out = torch.empty((m, n, _hidden_size(module)), dtype=torch.float32)
    bar = tqdm(total=n * m, desc="encode_multi", disable=not progress, unit="emb")
    for rows in longest_first_batches(cuts, batch_size):  # similar shared lengths share a batch
        shared = [grid.ids[0][t][: cuts[t]] for t in rows]
        cache, shared_mask = _shared_pass(module, shared)
        for j in range(m):
            tails = [grid.ids[j][t][cuts[t] :] for t in rows]
            out[j, rows] = _tail_pass(module, cache, shared_mask, tails).float().cpu()
            bar.update(len(rows))
    bar.close()
    return out


def _instruction_major(module, grid: PromptGrid, batch_size: int, progress: bool) -> torch.Tensor:
    """[m, n, H]: per instruction, one pass over its shared part, then the texts' tails in batches."""
    m, n = grid.n_instructions, grid.n_texts
    out = torch.empty((m, n, _hidden_size(module)), dtype=torch.float32)
    bar = tqdm(total=n * m, desc="encode_multi", disable=not progress, unit="emb")
    for j in range(m):
        cut = common_prefix_length(grid.ids[j])
        cache, shared_mask = _shared_pass(module, [grid.ids[j][0][:cut]])
        for rows in longest_first_batches([len(ids) for ids in grid.ids[j]], batch_size):
            batch_cache = copy.deepcopy(cache)
            batch_cache.batch_repeat_interleave(len(rows))
            tails = [grid.ids[j][t][cut:] for t in rows]
            mask = shared_mask.expand(len(rows), -1)
            out[j, rows] = _tail_pass(module, batch_cache, mask, tails).float().cpu()
            bar.update(len(rows))
    bar.close()
    return out


def _shared_pass(module, shared: list[list[int]]):
    """Key/value cache of the left-padded shared parts, and their attention mask."""
    batch = pad(shared, module.pad_id, side=causal.PADDING_SIDE)
    device = module.model.device
    input_ids, mask = batch["input_ids"].to(device), batch["attention_mask"].to(device)
    out = module.model.base_model(
        input_ids=input_ids, attention_mask=mask, position_ids=causal.position_ids(mask), use_cache=True
    )
    return out.cache, mask


def _hidden_size(module) -> int:
    return module.model.config.get_text_config().hidden_size


def _tail_pass(module, cache, shared_mask: torch.Tensor, tails: list[list[int]]) -> torch.Tensor:
    """States at ``layer`` of each row's last tail token; the cache is cropped back to the shared part."""
    batch = pad(tails, module.pad_id, side=causal.PADDING_SIDE)
    device = module.model.device
    tail_ids, tail_mask = batch["input_ids"].to(device), batch["attention_mask"].to(device)
    shared_length = shared_mask.long().sum(-1, keepdim=True)
    positions = (shared_length + tail_mask.cumsum(-1) - 1).clamp(min=0)
    states, _, _ = causal._base_forward(
        module.model, module.layer_index, input_ids=tail_ids, attention_mask=torch.cat([shared_mask, tail_mask], 1),
        position_ids=positions, cache=cache, use_cache=True,
    )  # fmt: skip
    cache.crop(-tail_ids.shape[1])
    return states[:, -1]


def _finish(model, embeddings: torch.Tensor, normalize: bool, truncate_dim: int | None = None) -> torch.Tensor:
    """Run the modules after InBedder (e.g. Normalize, Dense), truncate and normalise, as ``encode`` would."""
    features = {"sentence_embedding": embeddings.to(model.device)}
    for later in list(model)[1:]:
        features = later(features)
    embeddings = features["sentence_embedding"].float()
    if truncate_dim is not None:
        embeddings = embeddings[..., :truncate_dim]
    return torch.nn.functional.normalize(embeddings, dim=-1) if normalize else embeddings


def supports_encode_multi(model) -> bool:
    """True for an InBedder with a causal backbone and a first-answer-step pooling (what ``encode_multi`` computes)."""
    try:
        _checked_module(model)
    except (TypeError, ValueError):
        return False
    return True


def _checked_module(model):
    from inbedder_st.module import InBedder

    try:
        module = model[0]
    except (TypeError, IndexError, KeyError):
        module = None
    if not isinstance(module, InBedder):
        raise TypeError(
            f"encode_multi needs a SentenceTransformer whose first module is InBedder, got {type(model).__name__}."
        )
    if module.family != "causal":
        raise ValueError(
            f"encode_multi reuses a causal LM's key/value cache; this InBedder's family is {module.family!r}. "
            "Use model.encode(texts, prompt=p) per instruction."
        )
    first_step = module.pooling == "fst_gen" or (
        module.pooling in answer_space.ANSWER_POOLINGS and module.answer_steps == "first"
    )
    if not first_step:
        raise ValueError(
            "encode_multi computes the first answer step's state (fst_gen, and answer_dist / answer_sparse with "
            f"answer_steps='first'); this InBedder's pooling is {module.pooling!r}"
            + (f" with answer_steps={module.answer_steps!r}" if module.pooling in answer_space.ANSWER_POOLINGS else "")
            + ". Use model.encode(texts, prompt=p) per instruction."
        )
    return module


def _checked_prompts(prompts) -> list[str | None]:
    if isinstance(prompts, (str, bytes)) or not isinstance(prompts, Sequence):
        raise TypeError(f"prompts must be a list of instructions, got {type(prompts).__name__}.")
    if not prompts:
        raise ValueError("prompts is empty: give at least one instruction.")
    for index, prompt in enumerate(prompts):
        if prompt is not None and not isinstance(prompt, str):
            raise TypeError(f"Prompt {index} is {type(prompt).__name__}, expected str or None: {prompt!r:.80}")
    return list(prompts)
