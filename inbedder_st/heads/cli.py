"""``inbedder head fit``: fit an instruction head on a corpus and save it as a plain SentenceTransformer folder."""

from __future__ import annotations

import sys
from pathlib import Path


def register(commands) -> None:
    from inbedder_st.cli import add_command
    from inbedder_st.heads.fit import KINDS, OBJECTIVES

    head = commands.add_parser(
        "head",
        help="Instruction heads: a generic embedder that follows one instruction (fit on an InBedder teacher).",
        description="Instruction heads: a generic embedder + a small head fitted to follow one instruction the way "
        "an InBedder teacher does. The result is a plain SentenceTransformer folder.",
    )
    actions = head.add_subparsers(dest="head_command", required=True, metavar="ACTION")
    fit = add_command(
        actions, "fit", cmd_fit,
        "Fit a head for --prompt on a sample of --input: the teacher (--model) embeds or answers the sample, the "
        "head learns to map the base model's embeddings of the bare texts onto it.",
    )  # fmt: skip
    fit.add_argument("--prompt", required=True, help="the instruction the head answers, e.g. 'How does the customer feel?'")
    fit.add_argument("--input", required=True, help="text file, one text per line, or .jsonl; '-' = stdin")
    fit.add_argument("--output", required=True, help="folder for the head (loads with SentenceTransformer(DIR))")
    fit.add_argument("--sample", type=int, default=1000, help="texts of --input the teacher reads (default 1000)")
    fit.add_argument("--base", default="minilm", help="'minilm' (all-MiniLM-L6-v2, default) or a sentence-transformers folder/id")
    fit.add_argument("--kind", choices=KINDS, default="linear")
    fit.add_argument("--objective", choices=OBJECTIVES, default="embedding")
    fit.add_argument("--seed", type=int, default=0)
    fit.add_argument("--batch-size", type=int, default=32)
    fit.add_argument("--overwrite", action="store_true", help="replace a head folder written before")

    identity = actions.add_parser(
        "identity",
        help="Declare the base model itself the answer to --prompt (nothing fitted), to complete a head set.",
        description="Write a head folder that is the base model unchanged, for an instruction that asks what a "
        "generic embedder already encodes (e.g. 'What is this sentence about?').",
    )
    identity.set_defaults(handler=cmd_identity)
    identity.add_argument("--prompt", required=True, help="the instruction the base model answers as it is")
    identity.add_argument("--output", required=True, help="folder for the head")
    identity.add_argument("--base", default="minilm", help="'minilm' (default) or a sentence-transformers folder/id")
    identity.add_argument("--overwrite", action="store_true", help="replace a head folder written before")


def _check_output(args) -> Path:
    from inbedder_st.cli import CliError
    from inbedder_st.heads.model import is_head_folder

    output = Path(args.output)
    if output.exists() and (not output.is_dir() or any(output.iterdir())):
        if not (args.overwrite and is_head_folder(output)):
            raise CliError(f"--output {args.output!r} exists and is not empty (--overwrite replaces an earlier head)")
    return output


def _save(model, output: Path, overwrite: bool) -> None:
    from inbedder_st.heads.model import save_head

    if output.exists() and overwrite:
        import shutil

        shutil.rmtree(output)
    save_head(model, output)


def cmd_identity(args) -> None:
    from inbedder_st.cli import CliError
    from inbedder_st.heads.fit import identity_head

    output = _check_output(args)
    try:
        model = identity_head(args.prompt, base=args.base)
    except (OSError, TypeError) as error:
        raise CliError(str(error)) from None
    _save(model, output, args.overwrite)
    print(f"inbedder head identity: {model.head_info.base} answers {args.prompt!r} as it is; saved to {output}", file=sys.stderr)


def cmd_fit(args) -> None:
    from inbedder_st.cli import CliError, load, read_texts
    from inbedder_st.heads.fit import fit_head

    output = _check_output(args)
    texts = read_texts(args.input)
    teacher = load(args)

    def say(message: str) -> None:
        print(f"inbedder head fit: {message}", file=sys.stderr, flush=True)

    try:
        model = fit_head(
            teacher, texts, args.prompt, base=args.base, sample=args.sample, kind=args.kind,
            objective=args.objective, seed=args.seed, batch_size=args.batch_size, progress=say,
            show_progress_bar=True,
        )  # fmt: skip
    except (OSError, TypeError) as error:
        raise CliError(str(error)) from None
    _save(model, output, args.overwrite)
    say(f"saved to {output} (SentenceTransformer({str(output)!r}) loads it; fitted in {model.head_info.fit_seconds:.0f} s)")
