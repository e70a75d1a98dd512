"""The ``inbedder`` command: encode, answer, train, demo and evaluate.

Input files hold one text per line (``.jsonl``: one JSON string or object with a "text" field per line).
Every line is a text, empty lines included (they get valid embeddings); a final newline ends the last line.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

OUTPUT_SUFFIXES = (".npy", ".jsonl")


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
    texts = []
    for number, line in enumerate(lines, start=1):
        try:
            item = json.loads(line)
        except json.JSONDecodeError as error:
            raise CliError(f"{source}:{number}: not valid JSON ({error.msg})") from None
        text = item.get("text") if isinstance(item, dict) else item
        if not isinstance(text, str):
            raise CliError(f"{source}:{number}: expected a JSON string or an object with a string 'text' field")
        texts.append(text)
    return texts


def load(args):
    import transformers

    import inbedder_st

    transformers.utils.logging.disable_progress_bar()  # a sub-second weight-loading bar is noise here
    if _is_plain_sentence_transformer(args.model):  # e.g. an instruction head (`inbedder head fit`)
        return _load_plain(args)

    name = None if args.model in ("default", "zero-shot") else args.model
    options = {"device": args.device} if args.device else {}
    if args.model == "zero-shot":
        options["fine_tuned"] = False  # the default backbone without the package's QA fine-tuning
    if getattr(args, "pooling", None):
        options["pooling"] = args.pooling
    try:
        return inbedder_st.load_model(name, **options)
    except (OSError, ValueError, TypeError) as error:
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
    import numpy as np

    if args.output and not args.output.endswith(OUTPUT_SUFFIXES):
        raise CliError(f"--output must end with one of {OUTPUT_SUFFIXES}, got {args.output!r}")
    texts = read_texts(args.input)
    model = load(args)
    args.prompt = _head_prompt(model, args)
    embeddings = model.encode(
        texts,
        prompt=args.prompt,
        prompt_name=args.prompt_name,
        batch_size=args.batch_size,
        normalize_embeddings=args.normalize,
        show_progress_bar=True,
    )
    if args.output and args.output.endswith(".npy"):
        np.save(args.output, embeddings)
    else:
        out = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout
        for text, vector in zip(texts, embeddings):
            out.write(json.dumps({"text": text, "embedding": [round(float(x), 7) for x in vector]}) + "\n")
        if args.output:
            out.close()
    print(f"encoded {len(texts)} texts -> {tuple(embeddings.shape)}", file=sys.stderr)


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
    from inbedder_st.train.run import run_training

    files = [str(p) for p in shared_qa_files()] if args.data == ["shared"] else args.data
    if not files:
        raise CliError("no QA files found (--data shared looks in ../shared/data/qa)")
    for path in files:
        if not Path(path).is_file():
            raise CliError(f"cannot read --data file {path!r}")
    config = TrainConfig(
        output_dir=args.output, max_steps=args.max_steps, epochs=args.epochs, batch_size=args.batch_size,
        grad_accum=args.grad_accum, learning_rate=args.lr, max_length=args.max_length, lora=not args.full,
        lora_r=args.lora_r, lora_alpha=args.lora_alpha, eval_size=args.eval_size, save_steps=args.save_steps,
        eval_steps=args.eval_steps, seed=args.seed,
    )  # fmt: skip
    if args.lora_targets:
        config.lora_targets = args.lora_targets.split(",")
    args.model = args.base
    recipe = run_training(load(args), files, config, args.limit_per_source, args.only_fitting)
    result = recipe["result"]
    print(
        f"trained {result['steps']} steps on {result['train_records']} records in {result['seconds']:.0f} s; "
        f"eval loss {result['eval_loss_before']:.3f} -> {result['eval_loss_after']:.3f}; saved to {args.output}"
    )


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


def add_texts(sub: argparse.ArgumentParser) -> None:
    """--prompt/--prompt-name, --input and --batch-size: the options of every command that reads texts."""
    instruction = sub.add_mutually_exclusive_group()
    instruction.add_argument("--prompt", help="the instruction, e.g. 'How does the customer feel?'")
    instruction.add_argument("--prompt-name", help="a named instruction saved with the model")
    sub.add_argument("--input", default="-", help="text file, one text per line, or .jsonl; '-' = stdin")
    sub.add_argument("--batch-size", type=int, default=32)


def build_parser() -> argparse.ArgumentParser:
    import importlib

    parser = argparse.ArgumentParser(prog="inbedder", description="Instruction-following text embeddings.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, handler, help_text: str) -> argparse.ArgumentParser:
        return add_command(commands, name, handler, help_text)

    encode = add("encode", cmd_encode, "Embed texts under an instruction.")
    add_texts(encode)
    encode.add_argument("--output", help="FILE.npy or FILE.jsonl (default: JSONL on stdout)")
    encode.add_argument("--pooling", choices=["fst_gen", "avg_gen", "last_gen", "avg_ppt", "avg_all"])
    encode.add_argument("--normalize", action="store_true", help="L2-normalise the embeddings")

    answer = add("answer", cmd_answer, "Print each text's generated answer to the instruction.")
    add_texts(answer)
    answer.add_argument("--json", action="store_true", help="print JSON lines instead of 'text -> answer'")

    train = add("train", cmd_train, "Fine-tune an InBedder on short-answer QA (answers only in the loss).")
    train.add_argument("--data", nargs="+", required=True, help="QA files (SQuAD/TweetQA/BoolQ/... or generic .jsonl/.csv), or 'shared'")
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
