"""The ``inbedder`` command: encode, answer, train, demo and evaluate.

Input files hold one text per line (``.jsonl``: one JSON string or object with a "text" field per line).
Every line is a text, empty lines included (they get valid embeddings); a final newline ends the last line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from inbedder_st.rows import JsonLineError, parse_json_lines

OUTPUT_SUFFIXES = (".npy", ".jsonl")
SPARSE_OUTPUT_SUFFIXES = (".npz", ".jsonl")  # scipy CSR matrix, or (token, id, weight) lists per text


class CliError(Exception):
    """A user-facing error: printed as one line, exit status 2."""


def read_texts(source: str) -> list[str]:
    try:
        raw = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise CliError(f"cannot read input {source!r}: {error}") from None
    lines = raw.splitlines()
    if not source.endswith(".jsonl"):
        return lines
    try:
        items = parse_json_lines(lines, source, skip_blank=False)  # one embedding per input line
    except JsonLineError as error:
        raise CliError(str(error)) from None
    texts = []
    for number, item in items:
        text = item.get("text") if isinstance(item, dict) else item
        if not isinstance(text, str):
            raise CliError(f"{source}:{number}: expected a JSON string or an object with a string 'text' field")
        texts.append(text)
    return texts


def check_writable(path: str, what: str = "--output") -> None:
    """Fail before any work is done when ``path`` cannot be written (one line, no traceback)."""
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if target.is_dir():
        raise CliError(f"cannot write {what} {path!r}: it is a folder")
    if not folder.is_dir():
        raise CliError(f"cannot write {what} {path!r}: the folder {str(folder)!r} does not exist")
    if not os.access(folder, os.W_OK) or (target.exists() and not os.access(target, os.W_OK)):
        raise CliError(f"cannot write {what} {path!r}: permission denied")


def load(args):
    import transformers

    import inbedder_st
    from inbedder_st.default import DefaultModelMissing

    transformers.utils.logging.disable_progress_bar()  # a sub-second weight-loading bar is noise here
    if _is_plain_sentence_transformer(args.model):  # e.g. an instruction head (`inbedder head fit`)
        return _load_plain(args)

    name = None if args.model in ("default", "zero-shot") else args.model
    options = {"device": args.device} if args.device else {}
    if args.model == "zero-shot":
        options["fine_tuned"] = False  # the default backbone without the package's QA fine-tuning
    if getattr(args, "pooling", None):
        options["pooling"] = args.pooling
    if getattr(args, "top_k", None) is not None:
        options["answer_top_k"] = args.top_k
    loader = inbedder_st.load_sparse_model if options.get("pooling") == "answer_sparse" else inbedder_st.load_model
    try:
        return loader(name, **options)
    except (OSError, ValueError, TypeError, DefaultModelMissing) as error:
        raise CliError(f"cannot load model {args.model!r}: {error}") from None


def _is_plain_sentence_transformer(spec: str) -> bool:
    """A local sentence-transformers folder that is not a saved InBedder."""
    from inbedder_st.loading import is_saved_inbedder

    return Path(spec).is_dir() and (Path(spec) / "modules.json").is_file() and not is_saved_inbedder(spec)


def _load_plain(args):
    from sentence_transformers import SentenceTransformer

    if getattr(args, "pooling", None):
        raise CliError(f"--pooling applies to InBedder models; {args.model!r} is a plain sentence-transformers model")
    try:
        model = SentenceTransformer(args.model, **({"device": args.device} if args.device else {}))
    except (OSError, ValueError, TypeError) as error:
        raise CliError(f"cannot load model {args.model!r}: {error}") from None
    from inbedder_st.heads.model import is_head_folder, read_head_info

    if is_head_folder(args.model):
        model.head_info = read_head_info(args.model)
    return model


def _head_prompt(model, args):
    """An instruction head is its instruction: it embeds bare texts, and refuses any other instruction."""
    info = getattr(model, "head_info", None)
    if info is None:
        return args.prompt
    if args.prompt_name or (args.prompt is not None and args.prompt != info.instruction):
        asked = args.prompt if args.prompt is not None else f"--prompt-name {args.prompt_name}"
        raise CliError(
            f"{args.model} is the instruction head for {info.instruction!r}; it cannot embed under {asked!r} "
            "(leave out --prompt, or use the head fitted for that instruction)"
        )
    return None


def cmd_encode(args) -> None:
    from inbedder_st.distributed import command as ray_engine

    if args.engine == "ray":
        return ray_engine.run(args)
    ray_engine.check_local(args)
    if args.prompt and len(args.prompt) > 1:
        raise CliError("several --prompt need --engine ray (in Python: inbedder_st.encode_multi)")
    args.prompt = args.prompt[0] if args.prompt else None
    sparse = args.pooling == "answer_sparse"
    suffixes = SPARSE_OUTPUT_SUFFIXES if sparse else OUTPUT_SUFFIXES
    if args.output and not args.output.endswith(suffixes):
        kind = " for sparse embeddings (--pooling answer_sparse)" if sparse else ""
        raise CliError(f"--output must end with one of {suffixes}{kind}, got {args.output!r}")
    if args.top_k is not None and not sparse:
        raise CliError("--top-k applies to --pooling answer_sparse only")
    if args.output:
        check_writable(args.output)
    texts = read_texts(args.input)
    model = load(args)
    args.prompt = _head_prompt(model, args)
    options = dict(prompt=args.prompt, prompt_name=args.prompt_name, batch_size=args.batch_size, show_progress_bar=True)
    if sparse:
        embeddings = model.encode(texts, **options)  # a sparse COO tensor, L2-normalised rows
        write_sparse(model, texts, embeddings, args.output)
    else:
        embeddings = model.encode(texts, normalize_embeddings=args.normalize, **options)
        write_dense(texts, embeddings, args.output)
    print(f"encoded {len(texts)} texts -> {tuple(embeddings.shape)}", file=sys.stderr)


def write_dense(texts: list[str], embeddings, output: str | None) -> None:
    import numpy as np

    if output and output.endswith(".npy"):
        np.save(output, embeddings)
        return
    lines = (json.dumps({"text": t, "embedding": [round(float(x), 7) for x in v]}) for t, v in zip(texts, embeddings))
    write_lines(lines, output)


def write_sparse(model, texts: list[str], embeddings, output: str | None) -> None:
    """``.npz``: a scipy CSR matrix [texts, vocabulary]; JSONL: each text's active (token, id, weight) entries."""
    if output and output.endswith(".npz"):
        import scipy.sparse

        coo = embeddings.coalesce().cpu()
        rows, columns = coo.indices().numpy()
        matrix = scipy.sparse.csr_matrix((coo.values().numpy(), (rows, columns)), shape=tuple(coo.shape))
        scipy.sparse.save_npz(output, matrix)
        return
    decoded = model.decode(embeddings) if len(texts) else []
    lines = []
    for text, pairs in zip(texts, decoded):
        ids = model.tokenizer.convert_tokens_to_ids([token for token, _ in pairs])
        entries = [{"token": token, "id": i, "weight": round(w, 7)} for (token, w), i in zip(pairs, ids)]
        lines.append(json.dumps({"text": text, "sparse": entries}))
    write_lines(lines, output)


def write_lines(lines, output: str | None) -> None:
    out = open(output, "w", encoding="utf-8") if output else sys.stdout
    try:
        for line in lines:
            out.write(line + "\n")
    finally:
        if output:
            out.close()


def cmd_answer(args) -> None:
    import inbedder_st

    texts = read_texts(args.input)
    model = load(args)
    answers = inbedder_st.answer(
        model, texts, prompt=args.prompt, prompt_name=args.prompt_name, batch_size=args.batch_size
    )
    for text, reply in zip(texts, answers):
        print(json.dumps({"text": text, "answer": reply}) if args.json else f"{text}\t-> {reply}")


def cmd_train(args) -> None:
    from inbedder_st.train.loop import TrainConfig
    from inbedder_st.train.readers import shared_qa_files
    from inbedder_st.train.run import LabeledOptions, run_training

    files: list[str] = []
    for item in args.data:
        if item == "shared":
            found = [str(p) for p in shared_qa_files()]
            if not found:
                raise CliError("no QA files found (--data shared looks in ../shared/data/qa)")
            files.extend(found)
        elif item != "labeled":
            if not Path(item).is_file():
                raise CliError(f"cannot read --data file {item!r}")
            files.append(item)
    labeled_options = None
    if args.extra_wordings and "labeled" not in args.data:
        raise CliError("--extra-wordings adds to the labeled questions: add 'labeled' to --data")
    if args.extra_wordings:  # checked before the model loads: a bad wording fails at once, naming itself
        from inbedder_st.train.labeled import load_wordings

        missing = [file for file in args.extra_wordings if not Path(file).is_file()]
        if missing:
            raise CliError(f"cannot read --extra-wordings file {missing[0]!r}")
        try:
            load_wordings(extra=tuple(Path(file).resolve() for file in args.extra_wordings))
        except ValueError as error:  # json.JSONDecodeError included
            raise CliError(f"--extra-wordings: {error}") from None
    if "labeled" in args.data:
        labeled_options = LabeledOptions(root=args.labeled_data, per_source=args.labeled_per_source,
                                         per_text=args.wordings_per_text, max_share=args.labeled_share,
                                         validation_per_aspect=args.validation_per_aspect,
                                         extra_wordings=tuple(args.extra_wordings))  # fmt: skip
    config = TrainConfig(
        output_dir=args.output, max_steps=args.max_steps, epochs=args.epochs, batch_size=args.batch_size,
        grad_accum=args.grad_accum, learning_rate=args.lr, max_length=args.max_length, lora=not args.full,
        lora_r=args.lora_r, lora_alpha=args.lora_alpha, eval_size=args.eval_size, save_steps=args.save_steps,
        eval_steps=args.eval_steps, seed=args.seed, bf16=args.bf16, bucket=not args.no_bucket,
        contrastive_weight=args.contrastive_weight, contrastive_temperature=args.contrastive_temperature,
        contrastive_readout=args.contrastive_readout, answer_temperature=args.answer_temperature,
        group_size=args.group_size, keep=args.keep, keep_evaluated=args.keep_evaluated, log_steps=args.log_steps,
        lora_dropout=args.lora_dropout,
        warmup_ratio=args.warmup_ratio, time_limit_s=args.time_limit * 60 if args.time_limit else None,
    )  # fmt: skip
    if args.lora_targets:
        config.lora_targets = args.lora_targets.split(",")
    args.model = args.base
    try:
        recipe = run_training(load(args), files, config, args.limit_per_source, args.only_fitting, labeled_options)
    except (FileNotFoundError, KeyError) as error:  # missing shared data, unknown labeled source
        raise CliError(str(error)) from None
    result = recipe["result"]
    line = (f"trained {result['steps']} steps on {result['train_records']} records in {result['seconds']:.0f} s; "
            f"eval loss {result['eval_loss_before']:.3f} -> {result['eval_loss_after']:.3f}")  # fmt: skip
    if result["validation_records"]:
        line += f"; validation loss {result['validation_loss_before']:.3f} -> {result['validation_loss_final']:.3f}"
        if result["best_step"] is not None:
            line += f" (kept step {result['best_step']}: {result['best_validation_loss']:.3f})"
    if result["stopped_at_time_limit"]:
        line += "; stopped at the time limit before --max-steps (rerun the same command to resume)"
    print(f"{line}; saved to {args.output}")


def cmd_export_step(args) -> None:
    from inbedder_st.train.steps import evaluated_steps, export_step

    if not Path(args.run).is_dir():
        raise CliError(f"cannot read run folder {args.run!r}")
    if args.step is None:  # list what can be exported
        for step, metrics in evaluated_steps(args.run).items():
            losses = ", ".join(f"{key} {value:.4f}" for key, value in metrics.items() if key.endswith("_loss"))
            print(f"step {step}: {losses}")
        return
    if not args.output:
        raise CliError("--output is required with --step")
    print(f"step {args.step} of {args.run} saved to {export_step(args.run, args.step, args.output, args.device)}")


def cmd_demo(args) -> None:
    from inbedder_st.demo import run_demo

    run_demo(load(args))


def cmd_evaluate(args) -> None:
    from inbedder_st import evaluation

    tasks = [name for value in args.tasks for name in value.split(",") if name]
    try:
        run = evaluation.run(
            args.model, tasks, args.output, batch_size=args.batch_size, instruction_mode=args.instruction_mode,
            device=args.device, data=args.data, robustness=args.robustness, embedding_cache=args.embedding_cache,
            heads=args.heads,
        )  # fmt: skip
    except (KeyError, OSError, RuntimeError) as error:  # unknown task, missing data or model, a failed task
        raise CliError(error.args[0] if isinstance(error, KeyError) else str(error)) from None
    print(run.summary_markdown, end="")
    print(f"evaluated {run.model_label} on {len(run.task_names)} task(s) in {run.seconds:.0f} s; "
          f"results, summary.md and summary.csv in {run.output}", file=sys.stderr)  # fmt: skip


# Modules that add their own subcommands: each defines register(commands) and uses add_command/add_texts.
COMMAND_MODULES: tuple[str, ...] = ("inbedder_st.explain.cli", "inbedder_st.hub.cli", "inbedder_st.heads.cli")


def add_command(commands, name: str, handler, help_text: str) -> argparse.ArgumentParser:
    """A subcommand with the shared --model and --device options."""
    sub = commands.add_parser(name, help=help_text, description=help_text)
    sub.set_defaults(handler=handler)
    sub.add_argument(
        "--model", default="default", help="'default', 'zero-shot' (default backbone, not fine-tuned), a saved InBedder folder, a sentence-transformers folder (e.g. an instruction head), or an LM folder or hub id (causal, masked or seq2seq)"
    )
    sub.add_argument("--device", default=None, help="torch device, e.g. cpu or cuda (default: auto)")
    return sub


def add_texts(sub: argparse.ArgumentParser, repeat_prompt: bool = False) -> None:
    """--prompt/--prompt-name, --input and --batch-size: the options of every command that reads texts."""
    instruction = sub.add_mutually_exclusive_group()
    if repeat_prompt:  # a list: several instructions go to --engine ray
        instruction.add_argument("--prompt", action="append", help="the instruction, e.g. 'How does the customer feel?' (--engine ray: repeat for several)")
    else:
        instruction.add_argument("--prompt", help="the instruction, e.g. 'How does the customer feel?'")
    instruction.add_argument("--prompt-name", help="a named instruction saved with the model")
    sub.add_argument("--input", default="-", help="text file, one text per line, or .jsonl; '-' = stdin")
    sub.add_argument("--batch-size", type=int, default=32)


def build_parser() -> argparse.ArgumentParser:
    import importlib

    from inbedder_st.answer_space import ANSWER_POOLINGS
    from inbedder_st.distributed import command as ray_engine
    from inbedder_st.pooling import POOLINGS

    parser = argparse.ArgumentParser(prog="inbedder", description="Instruction-following text embeddings.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, handler, help_text: str) -> argparse.ArgumentParser:
        return add_command(commands, name, handler, help_text)

    encode = add("encode", cmd_encode, "Embed texts under an instruction.")
    add_texts(encode, repeat_prompt=True)
    encode.add_argument(
        "--output", help="FILE.npy or FILE.jsonl (sparse: FILE.npz, a scipy CSR matrix, or FILE.jsonl); default: JSONL on stdout; --engine ray: a folder"
    )
    encode.add_argument("--pooling", choices=POOLINGS + ANSWER_POOLINGS, help="default: the model's own")
    encode.add_argument("--top-k", type=int, help="answer_sparse: vocabulary entries kept per text (default 64)")
    encode.add_argument("--normalize", action="store_true", help="L2-normalise the embeddings")
    ray_engine.add_options(encode)

    answer = add("answer", cmd_answer, "Print each text's generated answer to the instruction.")
    add_texts(answer)
    answer.add_argument("--json", action="store_true", help="print JSON lines instead of 'text -> answer'")

    train = add("train", cmd_train, "Fine-tune an InBedder on short-answer QA (answers only in the loss).")
    train.add_argument(
        "--data", nargs="+", required=True,
        help="QA files (SQuAD/TweetQA/BoolQ/... or generic .jsonl/.csv), 'shared' (the QA files of ../shared/data/qa) "
        "and/or 'labeled' (questions generated from labeled text, inbedder_st/train/wordings.json)",
    )  # fmt: skip
    train.add_argument("--base", default="zero-shot", help="'zero-shot' (the default backbone), 'default', a causal LM id/folder or a saved InBedder")
    train.add_argument("--output", required=True, help="folder for the trained model, checkpoints and the recipe")
    train.add_argument("--limit-per-source", type=int, help="at most N records per dataset (seeded sample)")
    train.add_argument("--only-fitting", action="store_true", help="leave out records whose passage would be truncated")
    train.add_argument("--max-steps", type=int, help="optimizer steps (default: --epochs passes)")
    train.add_argument("--epochs", type=float, default=1.0)
    train.add_argument("--batch-size", type=int, default=8)
    train.add_argument("--grad-accum", type=int, default=4)
    train.add_argument("--lr", type=float, default=2e-4)
    train.add_argument("--max-length", type=int, default=512)
    train.add_argument("--full", action="store_true", help="full fine-tuning instead of LoRA")
    train.add_argument("--lora-r", type=int, default=8)
    train.add_argument("--lora-alpha", type=int, default=16)
    train.add_argument("--lora-targets", help="comma-separated module names (default: every linear layer except the output head)")
    train.add_argument("--eval-size", type=int, default=200, help="held-out records for the eval loss")
    train.add_argument("--eval-steps", type=int, default=50)
    train.add_argument("--save-steps", type=int, default=50, help="checkpoint every N steps (a rerun resumes)")
    train.add_argument("--seed", type=int, default=42)
    train.add_argument("--lora-dropout", type=float, default=0.05)
    train.add_argument("--warmup-ratio", type=float, default=0.03)
    train.add_argument("--bf16", action="store_true", help="bfloat16 autocast (fp32 weights): GPUs, and CPUs with AMX/AVX512-BF16; "
                       "elsewhere emulated and slower than fp32 (a warning says so)")
    train.add_argument("--no-bucket", action="store_true", help="random batches instead of length-bucketed ones")
    train.add_argument("--time-limit", type=float, metavar="MINUTES",
                       help="stop training after MINUTES (checkpoint saved, model saved from its best/last step; rerun resumes)")  # fmt: skip
    train.add_argument("--log-steps", type=int, default=10, help="read losses from the device every N steps")
    train.add_argument("--keep", choices=["best", "last"], default="best",
                       help="save the step with the lowest internal validation loss (labeled data) or the last step")  # fmt: skip
    train.add_argument("--keep-evaluated", action="store_true",
                       help="also keep every evaluated step's trainable weights in OUTPUT/evaluated/step-N, to pick a step "
                       "on another split afterwards (`inbedder export-step`); LoRA: a few MB each, full: a model each")  # fmt: skip
    labeled = train.add_argument_group("labeled data (--data ... labeled)")
    labeled.add_argument("--labeled-data", help="shared data folder (default: $INBEDDER_DATA or ../shared/data)")
    labeled.add_argument("--labeled-per-source", type=int, default=4000, help="at most N texts per labeled source")
    labeled.add_argument("--labeled-share", type=float, default=0.5, help="labeled records are at most this share of the mix")
    labeled.add_argument("--wordings-per-text", type=int, default=1, help="questions asked of each labeled text")
    labeled.add_argument("--extra-wordings", action="append", default=[], metavar="FILE",
                         help="a wordings file whose wordings add to inbedder_st/train/wordings.json (repeatable)")  # fmt: skip
    labeled.add_argument("--validation-per-aspect", type=int, default=60, help="internal validation records per aspect")
    labeled.add_argument("--contrastive-weight", type=float, default=0.0,
                         help="weight of the in-batch contrastive term (0: off; see --contrastive-readout)")  # fmt: skip
    labeled.add_argument("--contrastive-temperature", type=float, default=0.05)
    labeled.add_argument("--contrastive-readout", choices=("fst_gen", "answer_dist"), default="fst_gen",
                         help="the embedding the contrastive term acts on: the fst_gen state, or its answer_dist readout "
                              "(train for the pooling you ship)")  # fmt: skip
    labeled.add_argument("--answer-temperature", type=float, default=2.0,
                         help="with --contrastive-readout answer_dist: the answer distribution's temperature")
    labeled.add_argument("--group-size", type=int, default=8, help="with the contrastive term: same-question texts per run in a batch")

    export = commands.add_parser(
        "export-step", help="Save an evaluated step of a training run (train --keep-evaluated) as a model.",
        description="Save an evaluated step of a training run (train --keep-evaluated) as a model; without --step, "
        "list the run's evaluated steps and their losses.",
    )  # fmt: skip
    export.set_defaults(handler=cmd_export_step)
    export.add_argument("run", help="the run's --output folder")
    export.add_argument("--step", type=int, help="the evaluated step to save (default: list them)")
    export.add_argument("--output", help="a new folder for the model")
    export.add_argument("--device", default="cpu", help="torch device the weights are merged on (default: cpu)")

    add("demo", cmd_demo, "Show how similarities follow the instruction on the default model.")

    evaluate = add(
        "evaluate", cmd_evaluate,
        "Run MTEB tasks under their instructions; write mteb result JSON and a summary table. "
        "--model: 'default', 'zero-shot', 'minilm' (all-MiniLM-L6-v2 baseline), a saved model folder or a hub id.",
    )  # fmt: skip
    evaluate.add_argument("--tasks", nargs="+", required=True, help="'dev', 'paper' and/or task names (spaces or commas)")
    evaluate.add_argument("--output", required=True, help="folder for results/, summary.md and summary.csv")
    evaluate.add_argument(
        "--instruction-mode", choices=["ignore", "prepend"],
        help="plain sentence-transformers models only: drop the instruction (default) or prepend it to every text",
    )  # fmt: skip
    evaluate.add_argument(
        "--heads", metavar="DIR",
        help="evaluate --model (minilm or a sentence-transformers folder) with the instruction heads in DIR, one per "
        "task instruction (`inbedder head fit`); a task whose instruction has no head fails",
    )  # fmt: skip
    evaluate.add_argument("--robustness", action="store_true", help="also run the correct/implicit/incorrect instruction variants (dci, dii)")
    evaluate.add_argument("--data", help="shared data folder of the dev tasks (default: $INBEDDER_DATA or ../shared/data)")
    evaluate.add_argument("--batch-size", type=int, default=32)
    evaluate.add_argument(
        "--embedding-cache", metavar="DIR",
        help="reuse embeddings stored in DIR and store new ones there (default: $INBEDDER_EMBEDDING_CACHE; none if unset)",
    )  # fmt: skip

    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "batch_size", 1) < 1:
        print("inbedder: error: --batch-size must be >= 1", file=sys.stderr)
        return 2
    try:
        args.handler(args)
    except (CliError, ValueError) as error:  # ValueError: e.g. an unknown --prompt-name
        print(f"inbedder: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # a file that cannot be read or written along the way: name it, no traceback
        where = f": {error.filename}" if error.filename else ""
        print(f"inbedder: error: {error.strerror or error}{where}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
