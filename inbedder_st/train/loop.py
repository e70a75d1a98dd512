"""Answer-only fine-tuning of an InBedder's backbone (LoRA via peft, or full), with checkpoints and resume.

The recipe follows the paper (reference section 4): the QA template in QA order, loss on the answer
tokens and EOS only, AdamW with warmup + cosine decay. A run is deterministic given its seed: batches
come from a seeded permutation and checkpoints hold every RNG state, so a resumed run (dropout included)
continues exactly where the checkpoint left off.

Beyond the paper: an internal validation set (records of wordings and an aspect training never sees) is
scored every ``eval_steps`` and the best step is kept in ``output_dir/best`` (the saved model is that step's
with ``keep="best"``); with ``keep_evaluated`` every evaluated step's weights stay in ``output_dir/evaluated``, to
be picked on another split afterwards (train/steps.py saves one as a model); bf16 autocast; length-bucketed
batches; an optional contrastive term (objective.py).
"""

from __future__ import annotations

import json
import logging
import math
import random
import shutil
import time
import warnings
from collections import defaultdict
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from tqdm.auto import tqdm

from inbedder_st.answer_space import dropped_token_mask
from inbedder_st.backbones import family_class
from inbedder_st.dtypes import warn_if_slow
from inbedder_st.train import rng
from inbedder_st.train.batching import assign_groups, device_batch, micro_batches
from inbedder_st.train.examples import IGNORE, Example, build_examples, collate
from inbedder_st.train.objective import answer_dist_readout, base_lm, causal_forward, training_losses
from inbedder_st.train.steps import evaluated_folder

logger = logging.getLogger(__name__)

CONTRASTIVE_READOUTS = ("fst_gen", "answer_dist")


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
    bf16: bool = False  # bfloat16 autocast (weights and optimizer stay fp32)
    bucket: bool = True  # length-bucketed batches
    contrastive_weight: float = 0.0  # weight of the in-batch contrastive term (0: off); it acts on contrastive_readout
    contrastive_temperature: float = 0.05
    contrastive_readout: str = "fst_gen"  # the embedding the term acts on: "fst_gen" (the state) or "answer_dist"
    answer_temperature: float = 2.0  # with contrastive_readout="answer_dist": its softmax temperature (as at inference)
    group_size: int = 8  # with the contrastive term: same-question examples kept together in runs of this size
    keep: str = "best"  # the saved model: "best" (lowest validation loss) or "last" step
    keep_evaluated: bool = False  # also keep every evaluated step's trainable weights (output_dir/evaluated/step-N)
    log_steps: int = 10  # loss values are read from the device (a sync) every this many steps
    time_limit_s: float | None = None  # stop after this much training time (checkpoint saved; rerun resumes)


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
    validation_records: int = 0
    validation_loss_before: float = float("nan")
    validation_loss_final: float = float("nan")
    best_step: int | None = None  # the step whose weights were saved (keep="best"), None: the last
    best_validation_loss: float = float("nan")
    stopped_at_time_limit: bool = False  # the run stopped before max_steps (time_limit_s); the model is its best/last step


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
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
        task_type=family_class(family).peft_task_type,
    )
    with warnings.catch_warnings():
        # peft 0.21 reads transformers' deprecated `is_gradient_checkpointing` inside get_peft_model (peft_model.py);
        # the FutureWarning is about peft's code, not about anything a user of this package can change.
        warnings.filterwarnings("ignore", message="`is_gradient_checkpointing` is deprecated", category=FutureWarning)
        return get_peft_model(model, lora)


def answer_targets(batch: dict[str, torch.Tensor], family: str = "causal") -> torch.Tensor:
    """The labels aligned with the positions that predict them (a decoder predicts the next token)."""
    return family_class(family).answer_targets(batch["labels"])


def answer_loss(model, batch: dict[str, torch.Tensor], reduction: str = "mean", family: str = "causal") -> torch.Tensor:
    """Cross-entropy on the answer tokens only; the family reads their logits (``answer_logits`` in backbones/)."""
    lm = model.get_base_model() if hasattr(model, "get_base_model") else model
    inputs = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
    targets = answer_targets(batch, family)
    answer = targets != IGNORE
    logits = family_class(family).answer_logits(lm, inputs, batch["labels"], answer)
    return torch.nn.functional.cross_entropy(logits.float(), targets[answer], reduction=reduction)


def _autocast(device: torch.device, enabled: bool):
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16) if enabled else nullcontext()


@torch.no_grad()
def evaluation_loss(model, examples: list[Example], pad_id: int, batch_size: int = 16, family: str = "causal", bf16: bool = False) -> float:
    """Mean loss per answer token over ``examples``."""
    was_training = model.training
    model.eval()
    total, tokens = 0.0, 0
    for start in range(0, len(examples), batch_size):
        batch = collate(examples[start : start + batch_size], pad_id)
        batch = {k: v.to(model.device) for k, v in batch.items()}
        with _autocast(model.device, bf16):
            total += float(answer_loss(model, batch, reduction="sum", family=family))
        tokens += int((answer_targets(batch, family) != IGNORE).sum())
    model.train(was_training)
    return total / max(tokens, 1)


@torch.no_grad()
def validation_metrics(model, examples: list[Example], tags: list[tuple[str, str]], pad_id: int, batch_size: int = 32,
                       bf16: bool = False) -> dict:  # fmt: skip
    """Causal models: answer loss per token overall, per aspect and per style (``tags``: (aspect, style) per
    example), and the first answer token's accuracy. One device sync at the end."""
    was_training = model.training
    model.eval()
    order = sorted(range(len(examples)), key=lambda i: len(examples[i].input_ids))
    sums = torch.zeros(len(examples), device=model.device)
    counts = torch.zeros(len(examples), device=model.device)
    correct = torch.zeros(len(examples), device=model.device)
    lm = model.get_base_model() if hasattr(model, "get_base_model") else model
    head = lm.get_output_embeddings()
    for start in range(0, len(order), batch_size):
        chosen = order[start : start + batch_size]
        batch = device_batch([examples[i] for i in chosen], pad_id, model.device)
        index = torch.tensor(chosen, device=model.device)
        with _autocast(model.device, bf16):
            token_losses, states = causal_forward(model, batch, with_state=True)
            first = head(states).argmax(dim=-1)
        rows = index[batch["answer_rows"]]
        sums.index_add_(0, rows, token_losses.float())
        counts.index_add_(0, rows, torch.ones_like(token_losses, dtype=torch.float))
        correct[index] = (first == batch["first_targets"]).float()
    model.train(was_training)
    sums, counts, correct = sums.tolist(), counts.tolist(), correct.tolist()
    per_aspect, per_style = defaultdict(lambda: [0.0, 0.0]), defaultdict(lambda: [0.0, 0.0])
    for i, (aspect, style) in enumerate(tags):
        for table, key in ((per_aspect, aspect), (per_style, style)):
            table[key][0] += sums[i]
            table[key][1] += counts[i]
    return {
        "validation_loss": sum(sums) / max(sum(counts), 1),
        "validation_first_token_accuracy": sum(correct) / max(len(correct), 1),
        "validation_loss_per_aspect": {k: round(v[0] / max(v[1], 1), 4) for k, v in sorted(per_aspect.items())},
        "validation_loss_per_style": {k: round(v[0] / max(v[1], 1), 4) for k, v in sorted(per_style.items())},
    }


def _trainable_state(model) -> dict[str, torch.Tensor]:
    return {n: p.detach().cpu().contiguous() for n, p in model.named_parameters() if p.requires_grad}


def _replace_folder(staging: Path, folder: Path) -> None:
    if folder.exists():
        shutil.rmtree(folder)
    staging.rename(folder)  # a crash mid-save leaves the previous folder intact


def _save_checkpoint(folder: Path, model, optimizer, scheduler, step: int, losses: list[float], extra: dict | None = None) -> None:
    staging = folder.with_name(folder.name + ".tmp")
    staging.mkdir(parents=True, exist_ok=True)
    save_file(_trainable_state(model), staging / "trainable.safetensors")
    torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}, staging / "optimizer.pt")
    rng.save(staging / "rng.pt")  # dropout masks after a resume are the ones an uninterrupted run draws
    (staging / "state.json").write_text(json.dumps({"step": step, "losses": losses, **(extra or {})}))
    _replace_folder(staging, folder)


def _load_checkpoint(folder: Path, model, optimizer, scheduler) -> tuple[int, list[float], dict]:
    _load_trainable(folder, model)
    states = torch.load(folder / "optimizer.pt", weights_only=True)
    optimizer.load_state_dict(states["optimizer"])
    scheduler.load_state_dict(states["scheduler"])
    if (folder / "rng.pt").is_file():
        rng.load(folder / "rng.pt")
    else:
        logger.warning("Checkpoint %s has no RNG states (an older version): dropout will differ from an uninterrupted run.", folder)
    state = json.loads((folder / "state.json").read_text())
    return state["step"], state["losses"], state


def _load_trainable(folder: Path, model) -> None:
    weights = load_file(folder / "trainable.safetensors")
    missing = [n for n, p in model.named_parameters() if p.requires_grad and n not in weights]
    if missing:
        raise ValueError(f"Checkpoint {folder} does not match this model/config (missing {missing[:3]} ...).")
    model.load_state_dict({k: v.to(model.device) for k, v in weights.items()}, strict=False)


def _save_weights(folder: Path, model, step: int, metrics: dict) -> None:
    """The trainable weights of one evaluated step and its metrics (the best step, or any with keep_evaluated)."""
    staging = folder.with_name(folder.name + ".tmp")
    staging.mkdir(parents=True, exist_ok=True)
    save_file(_trainable_state(model), staging / "trainable.safetensors")
    (staging / "state.json").write_text(json.dumps({"step": step, **metrics}))
    _replace_folder(staging, folder)


def _logged_value_at_step_0(log_path: Path, key: str) -> float:
    for line in log_path.read_text(encoding="utf-8").splitlines() if log_path.is_file() else []:
        entry = json.loads(line)
        if entry.get("step") == 0 and key in entry:
            return entry[key]
    return float("nan")


def train(module, records, config: TrainConfig, show_progress_bar: bool = True, validation_records=None) -> TrainResult:
    """Fine-tune ``module.model`` (an InBedder's backbone) in place on QA ``records``; returns the recipe numbers.

    ``validation_records`` (QARecords with aspect/style, e.g. from labeled.build): the internal validation set
    scored every ``eval_steps``; the best step's trainable weights are kept in ``output_dir/best``.
    With LoRA the adapter is merged into the backbone at the end, and also saved on its own in
    ``output_dir/adapter`` (safetensors). Checkpoints go to ``output_dir/checkpoint`` every ``save_steps``.
    """
    from transformers import get_cosine_schedule_with_warmup

    if config.keep not in ("best", "last"):
        raise ValueError(f"keep must be 'best' or 'last', got {config.keep!r}")
    family = module.family
    if config.contrastive_weight > 0 and family != "causal":
        raise ValueError(f"The contrastive term needs a causal backbone (fst_gen state); this one is {family}.")
    if config.contrastive_readout not in CONTRASTIVE_READOUTS:
        raise ValueError(f"contrastive_readout must be one of {CONTRASTIVE_READOUTS}, got {config.contrastive_readout!r}")
    _seed_everything(config.seed)
    output = Path(config.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    shuffled = list(records)
    random.Random(config.seed).shuffle(shuffled)
    eval_records, train_records = shuffled[: config.eval_size], shuffled[config.eval_size :]
    if len(train_records) < config.batch_size:
        raise ValueError(f"Need at least batch_size={config.batch_size} training records, got {len(train_records)}.")
    train_examples, truncated = build_examples(train_records, module.tokenizer, module.template, config.max_length, family)
    eval_examples, _ = build_examples(eval_records, module.tokenizer, module.template, config.max_length, family)
    validation_records = list(validation_records or []) if family == "causal" else []
    validation_examples, _ = build_examples(validation_records, module.tokenizer, module.template, config.max_length, family)
    validation_tags = [(r.aspect or r.source, r.style or "qa") for r in validation_records]
    logger.info("Built %d training, %d eval and %d validation examples.", len(train_examples), len(eval_examples), len(validation_examples))
    group_size = config.group_size if config.contrastive_weight > 0 else 1
    if group_size > 1:
        groups = assign_groups(train_records, train_examples)
        logger.info("Contrastive term: %d questions asked of 2+ training texts.", groups)

    model = _wrap_lora(module.model, config, family) if config.lora else module.model
    model.train()
    device = model.device
    if config.bf16:
        warn_if_slow(torch.bfloat16, device)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    readout = None
    if config.contrastive_weight > 0 and config.contrastive_readout == "answer_dist":
        vocab = base_lm(model).get_output_embeddings().weight.shape[0]
        readout = answer_dist_readout(model, dropped_token_mask(module.tokenizer, vocab, "punctuation"), config.answer_temperature)
    steps_per_epoch = len(train_examples) // (config.batch_size * config.grad_accum)
    total_steps = config.max_steps or max(1, math.ceil(steps_per_epoch * config.epochs))
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=config.learning_rate, weight_decay=config.weight_decay)
    scheduler = get_cosine_schedule_with_warmup(optimizer, math.ceil(config.warmup_ratio * total_steps), total_steps)

    def evaluate() -> dict:
        metrics = {}
        if eval_examples:
            metrics["eval_loss"] = evaluation_loss(model, eval_examples, module.pad_id, family=family, bf16=config.bf16)
        if validation_examples:
            metrics.update(validation_metrics(model, validation_examples, validation_tags, module.pad_id, bf16=config.bf16))
        return metrics

    checkpoint, best_folder = output / "checkpoint", output / "best"
    step, losses, best = 0, [], {"step": None, "validation_loss": float("inf")}
    if (checkpoint / "state.json").is_file():
        step, losses, state = _load_checkpoint(checkpoint, model, optimizer, scheduler)
        best = state.get("best", best)
        logger.warning("Resuming from %s at step %d of %d.", checkpoint, step, total_steps)
    log = (output / "train_log.jsonl").open("a", encoding="utf-8")
    if step == 0:
        before = evaluate()
        log.write(json.dumps({"step": 0, **before}) + "\n")
        if "validation_loss" in before:
            best = {"step": 0, "validation_loss": before["validation_loss"]}
            _save_weights(best_folder, model, 0, before)
        if before and config.keep_evaluated:
            _save_weights(evaluated_folder(output, 0), model, 0, before)
        eval_before = before.get("eval_loss", float("nan"))
        validation_before = before.get("validation_loss", float("nan"))
    else:  # a resumed run reports the losses its first session measured before training
        eval_before = _logged_value_at_step_0(output / "train_log.jsonl", "eval_loss")
        validation_before = _logged_value_at_step_0(output / "train_log.jsonl", "validation_loss")

    stream = micro_batches(train_examples, config.batch_size, config.seed, total_steps * config.grad_accum,
                           group_size=group_size, bucket=config.bucket)  # fmt: skip
    for _ in range(step * config.grad_accum):  # skip what the checkpoint already consumed
        next(stream)
    started, tokens, evaluating_seconds = time.perf_counter(), 0, 0.0
    pending: list[tuple] = []  # per step: (step, loss, contrastive, lr, training tokens per second so far)
    bar = tqdm(total=total_steps, initial=step, desc="Training", disable=not show_progress_bar)

    def flush(extra: dict | None = None) -> None:
        """Read the pending losses from the device (the only per-step sync) and log them."""
        if not pending:
            return
        values = torch.stack([torch.stack([loss, contrastive]) for _, loss, contrastive, _, _ in pending]).tolist()
        for n, ((at, _, _, lr, rate), (loss, contrastive)) in enumerate(zip(pending, values)):
            losses.append(loss)
            entry = {"step": at, "loss": loss, "lr": lr, "tokens_per_second": rate}
            if config.contrastive_weight > 0:
                entry["contrastive_loss"] = contrastive
            if extra and n == len(pending) - 1:
                entry.update(extra)
            log.write(json.dumps(entry) + "\n")
        log.flush()
        bar.set_postfix(loss=f"{values[-1][0]:.3f}")
        pending.clear()

    while step < total_steps:
        window = torch.zeros((), device=device)
        window_contrastive = torch.zeros((), device=device)
        for _ in range(config.grad_accum):
            examples = next(stream)
            tokens += sum(len(e.input_ids) for e in examples)
            batch = device_batch(examples, module.pad_id, device, family)
            with _autocast(device, config.bf16):
                if family == "causal":
                    loss, _, contrastive = training_losses(model, batch, config.contrastive_weight,
                                                           config.contrastive_temperature, readout)  # fmt: skip
                else:
                    loss, contrastive = answer_loss(model, batch, family=family), torch.zeros((), device=device)
            (loss / config.grad_accum).backward()
            window += loss.detach() / config.grad_accum
            window_contrastive += contrastive.detach() / config.grad_accum
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        rate = tokens / max(time.perf_counter() - started - evaluating_seconds, 1e-9)  # evaluation time left out
        pending.append((step, window, window_contrastive, scheduler.get_last_lr()[0], rate))
        bar.update(1)
        evaluating = (eval_examples or validation_examples) and (step % config.eval_steps == 0 or step == total_steps)
        saving = step % config.save_steps == 0 or step == total_steps
        evaluation_started = time.perf_counter()
        metrics = evaluate() if evaluating else None
        evaluating_seconds += time.perf_counter() - evaluation_started
        if metrics and metrics.get("validation_loss", float("inf")) < best["validation_loss"]:
            best = {"step": step, "validation_loss": metrics["validation_loss"]}
            _save_weights(best_folder, model, step, metrics)
        if metrics and config.keep_evaluated:
            _save_weights(evaluated_folder(output, step), model, step, metrics)
        if metrics or saving or step % config.log_steps == 0:
            flush(metrics)
        out_of_time = config.time_limit_s is not None and time.perf_counter() - started > config.time_limit_s
        if saving or (out_of_time and step < total_steps):
            flush()
            _save_checkpoint(checkpoint, model, optimizer, scheduler, step, losses, {"best": best})
        if out_of_time and step < total_steps:
            logger.warning("Time limit reached at step %d of %d: checkpoint saved (rerun to resume).", step, total_steps)
            break
    flush()
    bar.close()
    log.close()
    seconds = time.perf_counter() - started
    final = evaluate()
    if config.keep_evaluated and final and not evaluated_folder(output, step).is_dir():  # a time-limit stop
        _save_weights(evaluated_folder(output, step), model, step, final)
    if final.get("validation_loss", float("inf")) < best["validation_loss"]:  # a run stopped between evaluations
        best = {"step": step, "validation_loss": final["validation_loss"]}  # the last step wins on its own score
    if config.keep == "best" and best["step"] is not None and best["step"] != step:
        logger.warning("Keeping step %d (validation loss %.4f) rather than the last step %d.", best["step"], best["validation_loss"], step)
        _load_trainable(best_folder, model)

    if config.lora:
        model.save_pretrained(output / "adapter")  # adapter_model.safetensors + adapter_config.json
        model = model.merge_and_unload()
    module.model = model.eval()
    window = losses[-10:]
    kept_best = config.keep == "best" and best["step"] is not None
    return TrainResult(
        steps=step,
        train_records=len(train_examples),
        eval_records=len(eval_examples),
        truncated_passages=truncated,
        first_loss=losses[0] if losses else float("nan"),
        final_loss=sum(window) / max(len(window), 1),
        eval_loss_before=eval_before,
        eval_loss_after=final.get("eval_loss", float("nan")),
        seconds=seconds,
        tokens_per_second=tokens / max(seconds, 1e-9),
        validation_records=len(validation_examples),
        validation_loss_before=validation_before,
        validation_loss_final=final.get("validation_loss", float("nan")),
        best_step=best["step"] if kept_best else None,
        best_validation_loss=best["validation_loss"] if kept_best else float("nan"),
        stopped_at_time_limit=step < total_steps,
    )
