"""The ``--engine ray`` options of ``inbedder encode`` and their handler (Ray is imported only when it runs)."""

from __future__ import annotations

import argparse

RAY_ONLY = ("text_column", "address", "concurrency", "num_gpus", "num_cpus", "rows_per_part", "answers", "dtype")


def add_options(encode: argparse.ArgumentParser) -> None:
    encode.add_argument("--engine", choices=["local", "ray"], default="local",
                        help="local: this process; ray: Parquet in and out on Ray Data (pip install \"inbedder-st[ray]\")")  # fmt: skip
    group = encode.add_argument_group("--engine ray (--input: a folder of .parquet files or a glob; --output: a folder)")
    group.add_argument("--text-column", help="the column holding the texts (default: text)")
    group.add_argument("--address", help="the Ray cluster to join, e.g. auto or HOST:PORT (default: start a local Ray)")
    group.add_argument("--concurrency", type=int, help="actors, one model each (default 1)")
    group.add_argument("--num-gpus", type=float, help="GPUs per actor (default 0: CPU)")
    group.add_argument("--num-cpus", type=float, help="CPUs per actor, also its torch threads (default 1)")
    group.add_argument("--rows-per-part", type=int, help="rows per output part, the unit a rerun resumes from (default 100000)")
    group.add_argument("--answers", action="store_true", default=None, help="add each instruction's generated answer")
    group.add_argument("--dtype", help="the model's torch dtype, e.g. bfloat16 on GPUs (default: float32)")


def check_local(args) -> None:
    """--engine local: refuse the Ray-only options rather than ignore them."""
    from inbedder_st.cli import CliError

    given = [f"--{name.replace('_', '-')}" for name in RAY_ONLY if getattr(args, name) is not None]
    if given:
        raise CliError(f"{', '.join(given)} appl{'y' if len(given) > 1 else 'ies'} to --engine ray only")


def run(args) -> None:
    from inbedder_st.cli import CliError
    from inbedder_st.distributed.job import JobConfig, print_result, run_job
    from inbedder_st.distributed.parts import JobError

    if not args.prompt:
        raise CliError("--engine ray needs at least one --prompt (repeat it for several instructions)")
    if args.prompt_name or args.pooling or args.top_k is not None:
        raise CliError("--engine ray takes --prompt (repeatable); --prompt-name, --pooling and --top-k are local-engine options")
    if not args.output or args.input == "-":
        raise CliError("--engine ray reads --input DIR_OR_GLOB (Parquet) and writes --output DIR")
    for name in ("concurrency", "rows_per_part"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            raise CliError(f"--{name.replace('_', '-')} must be >= 1")
    load_kwargs = {"fine_tuned": False} if args.model == "zero-shot" else {}
    if args.device:
        load_kwargs["device"] = args.device
    config = JobConfig(
        input=args.input, output=args.output, prompts=list(args.prompt),
        model="default" if args.model == "zero-shot" else args.model, text_column=args.text_column or "text",
        address=args.address, concurrency=args.concurrency or 1, num_gpus=args.num_gpus or 0,
        num_cpus=args.num_cpus or 1, batch_size=args.batch_size, rows_per_part=args.rows_per_part or 100_000,
        normalize=args.normalize, answers=bool(args.answers), dtype=args.dtype, load_kwargs=load_kwargs,
    )  # fmt: skip
    try:
        result = run_job(config)
    except (JobError, ImportError) as error:
        raise CliError(str(error)) from None
    print_result(result)
