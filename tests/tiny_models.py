"""Tiny randomly initialised models of each family, built offline (config + a locally trained tokenizer).

For mechanics only (padding, truncation, save/load, hub-id loading): their outputs mean nothing. The
tokenizers are built here from a few sentences (BPE and WordPiece trained, the T5 unigram vocabulary counted), so
no vocabulary file has to be downloaded; every build gives the same files.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

CORPUS = [
    "I love cats and dogs. I dislike cats.",
    "The customer is angry about the refund and wants the card delivered.",
    "What is this text about? How does the customer feel? Where did the news happen?",
    "### Input:\nhello world\n\n### Instruction:\nWhat animal is it?\n\n### Response:",
] * 4


def _byte_level_bpe(special_tokens: list[str]):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=special_tokens, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tokenizer.train_from_iterator(CORPUS, trainer)
    model = json.loads(tokenizer.to_str())["model"]
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in model["merges"]]
    return model["vocab"], merges


def _unigram_pieces(special_tokens: list[str]) -> list[tuple[str, float]]:
    """A SentencePiece (Metaspace) unigram vocabulary of CORPUS's words and characters, scored by log frequency.

    Built by counting, not by tokenizers' UnigramTrainer: that trainer's pieces differ from process to process,
    so the tiny T5 (and what a few training steps do to it) changed from run to run."""
    import math
    from collections import Counter

    words = Counter("\u2581" + word for line in CORPUS for word in line.split())
    chars = Counter(ch for word in words.elements() for ch in word)
    total = sum(words.values()) + sum(chars.values())
    scored = {piece: math.log(n / total) for piece, n in (*chars.items(), *words.items())}
    pieces = sorted(scored.items(), key=lambda item: (-item[1], item[0]))
    return [(token, 0.0) for token in special_tokens] + pieces


def build_roberta(folder: str | Path, layers: int = 2) -> Path:
    from transformers import RobertaConfig, RobertaForMaskedLM, RobertaTokenizer

    vocab, merges = _byte_level_bpe(["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    tokenizer = RobertaTokenizer(vocab=vocab, merges=merges)
    config = RobertaConfig(
        vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=layers, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=600, pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
    )  # fmt: skip
    return _save(RobertaForMaskedLM, config, tokenizer, folder)


def build_bert(folder: str | Path) -> Path:
    from transformers import BertConfig, BertForMaskedLM, BertTokenizer

    words = sorted({w.strip(".?!:#\n").lower() for line in CORPUS for w in line.split()} - {""})
    vocab = {token: i for i, token in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", "?", ":", "#", *words])}
    tokenizer = BertTokenizer(vocab=vocab)
    config = BertConfig(
        vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=600, pad_token_id=tokenizer.pad_token_id,
    )  # fmt: skip
    return _save(BertForMaskedLM, config, tokenizer, folder)


def build_t5(folder: str | Path) -> Path:
    from transformers import T5Config, T5ForConditionalGeneration, T5Tokenizer

    tokenizer = T5Tokenizer(vocab=_unigram_pieces(["<pad>", "</s>", "<unk>"]), extra_ids=0)
    config = T5Config(
        vocab_size=len(tokenizer), d_model=32, d_kv=8, d_ff=64, num_layers=2, num_decoder_layers=2, num_heads=2,
        decoder_start_token_id=tokenizer.pad_token_id, pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )  # fmt: skip
    return _save(T5ForConditionalGeneration, config, tokenizer, folder)


def build_opt(folder: str | Path) -> Path:
    from transformers import GPT2Tokenizer, OPTConfig, OPTForCausalLM

    vocab, merges = _byte_level_bpe(["<pad>", "</s>", "<unk>"])
    tokenizer = GPT2Tokenizer(vocab=vocab, merges=merges, bos_token="</s>", eos_token="</s>", unk_token="<unk>",
                              pad_token="<pad>", add_bos_token=True)  # fmt: skip
    config = OPTConfig(
        vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, ffn_dim=64, num_attention_heads=2,
        word_embed_proj_dim=32, max_position_embeddings=600, pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
    )  # fmt: skip
    return _save(OPTForCausalLM, config, tokenizer, folder)


def llama_tokenizer():
    """A Llama-2-style tokenizer: SentencePiece-like BPE with byte fallback and a Metaspace pre-tokenizer
    (word-start marker "▁" prepended to the first word), as transformers' LlamaTokenizer builds it."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import LlamaTokenizer

    bpe = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True))
    bpe.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="first")
    byte_tokens = [f"<0x{i:02X}>" for i in range(256)]
    trainer = trainers.BpeTrainer(vocab_size=600, special_tokens=["<unk>", "<s>", "</s>", *byte_tokens])
    # Newlines and "#" stay out of the learned alphabet: like Llama-2, they are written as byte tokens.
    bpe.train_from_iterator([line.replace("\n", " ").replace("#", "") for line in CORPUS], trainer)
    model = json.loads(bpe.to_str())["model"]
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in model["merges"]]
    return LlamaTokenizer(vocab=model["vocab"], merges=merges, add_bos_token=True)


def build_llama(folder: str | Path) -> Path:
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = llama_tokenizer()
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
        num_key_value_heads=2, max_position_embeddings=600, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )  # fmt: skip
    return _save(LlamaForCausalLM, config, tokenizer, folder)


BUILDERS = {"roberta": build_roberta, "bert": build_bert, "t5": build_t5, "opt": build_opt, "llama": build_llama}


def _save(model_class, config, tokenizer, folder: str | Path) -> Path:
    # Seeded before construction: transformers initialises the weights there, and init_weights() afterwards
    # leaves already-initialised modules alone, so seeding later gave different weights on every build.
    torch.manual_seed(0)
    model = model_class(config)
    folder = Path(folder)
    model.save_pretrained(folder)  # safetensors
    tokenizer.save_pretrained(folder)
    return folder


def as_hub_cache(folder: Path, repo_id: str, cache: Path) -> Path:
    """Lay ``folder`` out as huggingface_hub's cache holds a downloaded repo, so ``from_pretrained(repo_id,
    cache_dir=cache, local_files_only=True)`` takes the real hub code path without a network."""
    commit = "0" * 40
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    for file in folder.iterdir():
        (snapshot / file.name).write_bytes(file.read_bytes())
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    return cache
