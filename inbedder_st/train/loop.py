"""Answer-only fine-tuning of an InBedder's backbone (LoRA via peft, or full), with checkpoints and resume.

The recipe follows the paper (reference section 4): the QA template in QA order, loss on the answer
tokens and EOS only, AdamW with warmup + cosine decay. A run is deterministic given its seed: batches
come from a seeded permutation, so a resumed run continues exactly where the checkpoint left off.
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from tqdm.auto import tqdm

from inbedder_st.train.examples import IGNORE, Example, build_examples, collate

logger = logging.getLogger(__name__)

PEFT_TASK_TYPES = {"causal": "CAUSAL_LM", "seq2seq": "SEQ_2_SEQ_LM", "masked": None}


@dataclass
class TrainConfig:
    output_dir: str
    max_steps: int | None = None  # optimizer steps; None = `epochs` passes over the training records
    epochs: float = 1.0
    batch_size: int = 8
    grad_accum: int = 4
    learning_rate: float = 2e-4
    warmup_ratio: float = 0.03
    weight_decay: float = 0.0
    max_length: int = 512
    lora: bool = True
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.05
    lora_targets: list[str] | None = None  # None: every linear layer but the output head (Llama: q,k,v,o,gate,up,down)
    eval_size: int = 200
    eval_steps: int = 50
    save_steps: int = 50
    seed: int = 42


@dataclass
class TrainResult:
    steps: int
    train_records: int
    eval_records: int
    truncated_passages: int
    first_loss: float
    final_loss: float  # mean training loss over the last logged window
    eval_loss_before: float
    eval_loss_after: float
    seconds: float
    tokens_per_second: float


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)


def linear_layer_names(model) -> list[str]:
    """Names (last component) of the model's linear layers, without the output (vocabulary) projection."""
    head = model.get_output_embeddings()
    return sorted({name.rsplit(".", 1)[-1] for name, module in model.named_modules()
                   if isinstance(module, torch.nn.Linear) and module is not head})  # fmt: skip


def _wrap_lora(model, config: TrainConfig, family: str):
    from peft import LoraConfig, get_peft_model

    if config.lora_targets is None:
        config.lora_targets = linear_layer_names(model)  # resolved here so the recipe records it
    lora = LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=list(config.lora_targets),
        task_type=PEFT_TASK_TYPES[family],
    )
    with warnings.catch_warnings():
        # peft 0.21 reads transformers' deprecated `is_gradient_checkpointing` inside get_peft_model (peft_model.py);
        # the FutureWarning is about peft's code, not about anything a user of this package can change.
        warnings.filterwarnings("ignore", message="`is_gradient_checkpointing` is deprecated", category=FutureWarning)
        return get_peft_model(model, lora)


def _micro_batches(examples: list[Example], config: TrainConfig, total_micro: int):
    """The seeded stream of micro-batches: one permutation per epoch, cycling as long as needed."""
    epoch = 0
    produced = 0
    while produced < total_micro:
        order = list(range(len(examples)))
        random.Random(config.seed * 7919 + epoch).shuffle(order)
        for start in range(0, len(order) - config.batch_size + 1, config.batch_size):
            if produced == total_micro:
                return
            yield [examples[i] for i in order[start : start + config.batch_size]]
            produced += 1
        epoch += 1


def answer_targets(batch: dict[str, torch.Tensor], family: str = "causal") -> torch.Tensor:
    """The labels aligned with the positions that predict them (a decoder predicts the next token)."""
    return batch["labels"][:, 1:] if family == "causal" else batch["labels"]


def answer_loss(model, batch: dict[str, torch.Tensor], reduction: str = "mean", family: str = "causal") -> torch.Tensor:
    """Cross-entropy on the answer tokens only.

    causal: projects only the answer positions through the LM head -- the same value as the model's own
    loss, without a vocabulary-wide projection for every prompt position (a fifth of SmolLM2's compute).
    masked: the logits at the mask tokens; seq2seq: the decoder's logits for the answer (labels shifted
    into decoder inputs by the model).
    """
    lm = model.get_base_model() if hasattr(model, "get_base_model") else model
    inputs = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
    targets = answer_targets(batch, family)
    answer = targets != IGNORE
    if family == "causal":
        hidden = lm.base_model(**inputs).last_hidden_state
        logits = lm.get_output_embeddings()(hidden[:, :-1][answer])
    elif family == "masked":
        logits = lm(**inputs).logits[answer]
    else:
        logits = lm(**inputs, labels=batch["labels"]).logits[answer]
    return torch.nn.functional.cross_entropy(logits.float(), targets[answer], reduction=reduction)


@torch.no_grad()
def evaluation_loss(model, examples: list[Example], pad_id: int, batch_size: int = 16, family: str = "causal") -> float:
    """Mean loss per answer token over ``examples``."""
    was_training = model.training
    model.eval()
    total, tokens = 0.0, 0
    for start in range(0, len(examples), batch_size):
        batch = collate(examples[start : start + batch_size], pad_id)
        batch = {k: v.to(model.device) for k, v in batch.items()}
        total += float(answer_loss(model, batch, reduction="sum", family=family))
        tokens += int((answer_targets(batch, family) != IGNORE).sum())
    model.train(was_training)
    return total / max(tokens, 1)


def _trainable_state(model) -> dict[str, torch.Tensor]:
    return {n: p.detach().cpu().contiguous() for n, p in model.named_parameters() if p.requires_grad}


def _save_checkpoint(folder: Path, model, optimizer, scheduler, step: int, losses: list[float]) -> None:
    staging = folder.with_name(folder.name + ".tmp")
    staging.mkdir(parents=True, exist_ok=True)
    save_file(_trainable_state(model), staging / "trainable.safetensors")
    torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}, staging / "optimizer.pt")
    (staging / "state.json").write_text(json.dumps({"step": step, "losses": losses}))
    if folder.exists():
        for old in folder.iterdir():
            old.unlink()
        folder.rmdir()
    staging.rename(folder)  # a crash mid-save leaves the previous checkpoint intact


def _load_checkpoint(folder: Path, model, optimizer, scheduler) -> tuple[int, list[float]]:
    weights = load_file(folder / "trainable.safetensors")
    missing = [n for n, p in model.named_parameters() if p.requires_grad and n not in weights]
    if missing:
        raise ValueError(f"Checkpoint {folder} does not match this model/config (missing {missing[:3]} ...).")
    model.load_state_dict(weights, strict=False)
    states = torch.load(folder / "optimizer.pt", weights_only=True)
    optimizer.load_state_dict(states["optimizer"])
    scheduler.load_state_dict(states["scheduler"])
    state = json.loads((folder / "state.json").read_text())
    return state["step"], state["losses"]


def _logged_eval_before(log_path: Path) -> float:
    for line in log_path.read_text(encoding="utf-8").splitlines() if log_path.is_file() else []:
        entry = json.loads(line)
        if entry.get("step") == 0 and "eval_loss" in entry:
            return entry["eval_loss"]
    return float("nan")


def train(module, records, config: TrainConfig, show_progress_bar: bool = True) -> TrainResult:
    """Fine-tune ``module.model`` (an InBedder's backbone) in place on QA ``records``; returns the recipe numbers.

    With LoRA the adapter is merged into the backbone at the end, and also saved on its own in
    ``output_dir/adapter`` (safetensors). Checkpoints go to ``output_dir/checkpoint`` every ``save_steps``.
    """
    from transformers import get_cosine_schedule_with_warmup

    _seed_everything(config.seed)
    output = Path(config.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    shuffled = list(records)
    random.Random(config.seed).shuffle(shuffled)
    eval_records, train_records = shuffled[: config.eval_size], shuffled[config.eval_size :]
    if len(train_records) < config.batch_size:
        raise ValueError(f"Need at least batch_size={config.batch_size} training records, got {len(train_records)}.")
    family = module.family
    train_examples, truncated = build_examples(train_records, module.tokenizer, module.template, config.max_length, family)
    eval_examples, _ = build_examples(eval_records, module.tokenizer, module.template, config.max_length, family)

    model = _wrap_lora(module.model, config, family) if config.lora else module.model
    model.train()
    steps_per_epoch = len(train_examples) // (config.batch_size * config.grad_accum)
    total_steps = config.max_steps or max(1, math.ceil(steps_per_epoch * config.epochs))
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=config.learning_rate, weight_decay=config.weight_decay)
    scheduler = get_cosine_schedule_with_warmup(optimizer, math.ceil(config.warmup_ratio * total_steps), total_steps)

    checkpoint = output / "checkpoint"
    step, losses = 0, []
    if (checkpoint / "state.json").is_file():
        step, losses = _load_checkpoint(checkpoint, model, optimizer, scheduler)
        logger.warning("Resuming from %s at step %d of %d.", checkpoint, step, total_steps)
    if step == 0:
        eval_before = evaluation_loss(model, eval_examples, module.pad_id, family=family) if eval_examples else float("nan")
    else:  # a resumed run reports the loss its first session measured before training
        eval_before = _logged_eval_before(output / "train_log.jsonl")
    log = (output / "train_log.jsonl").open("a", encoding="utf-8")
    if step == 0:
        log.write(json.dumps({"step": 0, "eval_loss": eval_before}) + "\n")

    stream = _micro_batches(train_examples, config, total_steps * config.grad_accum)
    for _ in range(step * config.grad_accum):  # skip what the checkpoint already consumed
        next(stream)
    started, tokens = time.perf_counter(), 0
    bar = tqdm(total=total_steps, initial=step, desc="Training", disable=not show_progress_bar)
    while step < total_steps:
        window_loss = 0.0
        for _ in range(config.grad_accum):
            batch = collate(next(stream), module.pad_id)
            tokens += int(batch["attention_mask"].sum())
            batch = {k: v.to(model.device) for k, v in batch.items()}
            loss = answer_loss(model, batch, family=family) / config.grad_accum
            loss.backward()
            window_loss += float(loss.detach())
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        losses.append(window_loss)
        bar.update(1)
        bar.set_postfix(loss=f"{window_loss:.3f}")
        entry = {"step": step, "loss": window_loss, "lr": scheduler.get_last_lr()[0],
                 "tokens_per_second": tokens / (time.perf_counter() - started)}  # fmt: skip
        if eval_examples and (step % config.eval_steps == 0 or step == total_steps):
            entry["eval_loss"] = evaluation_loss(model, eval_examples, module.pad_id, family=family)
        log.write(json.dumps(entry) + "\n")
        log.flush()
        if step % config.save_steps == 0 or step == total_steps:
            _save_checkpoint(checkpoint, model, optimizer, scheduler, step, losses)
    bar.close()
    log.close()
    seconds = time.perf_counter() - started
    eval_after = evaluation_loss(model, eval_examples, module.pad_id, family=family) if eval_examples else float("nan")

    if config.lora:
        model.save_pretrained(output / "adapter")  # adapter_model.safetensors + adapter_config.json
        model = model.merge_and_unload()
    module.model = model.eval()
    window = losses[-10:]
    result = TrainResult(
        steps=step,
        train_records=len(train_examples),
        eval_records=len(eval_examples),
        truncated_passages=truncated,
        first_loss=losses[0] if losses else float("nan"),
        final_loss=sum(window) / max(len(window), 1),
        eval_loss_before=eval_before,
        eval_loss_after=eval_after,
        seconds=seconds,
        tokens_per_second=tokens / max(seconds, 1e-9),
    )
    return result
