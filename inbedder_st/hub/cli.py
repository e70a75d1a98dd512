"""``inbedder export MODEL DIR`` and ``inbedder push MODEL REPO_ID [--dry-run]``.

The push command takes no token argument (it would land in shell history and process lists): it uses
``HF_TOKEN`` or the token saved by ``hf auth login``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path


def register(commands) -> None:
    export = commands.add_parser(
        "export",
        help="Write a loadable model folder with its model card (README.md).",
        description="Write MODEL to DIR: sentence-transformers files, safetensors weights, tokenizer, module config "
        "with prompts, and a model card. Load it with SentenceTransformer(DIR, trust_remote_code=True) or inbedder_st.load_model(DIR).",
    )
    export.set_defaults(handler=cmd_export)
    export.add_argument("model", metavar="MODEL", help="'default', 'zero-shot', or a saved InBedder folder")
    export.add_argument("folder", metavar="DIR", help="output folder (must be empty; see --overwrite)")
    export.add_argument("--overwrite", action="store_true", help="replace a folder written by an earlier export")
    _add_export_options(export)

    push = commands.add_parser(
        "push",
        help="Export MODEL and upload it to a Hugging Face Hub repo (token: HF_TOKEN or `hf auth login`).",
        description="Export MODEL (or take a folder written by `inbedder export`) and upload it to REPO_ID. "
        "The token comes from HF_TOKEN or `hf auth login`, never from the command line.",
    )
    push.set_defaults(handler=cmd_push)
    push.add_argument(
        "model", metavar="MODEL", help="'default', 'zero-shot', a saved InBedder folder, or an exported folder"
    )
    push.add_argument("repo_id", metavar="REPO_ID", help="'user/name' or 'org/name'")
    push.add_argument(
        "--dry-run", action="store_true", help="export, then list the files and the card's metadata; upload nothing"
    )
    push.add_argument("--private", action="store_true", help="create the repo as private")
    push.add_argument("--exist-ok", action="store_true", help="upload a new commit to a repo that already exists")
    push.add_argument("--revision", help="branch to push to (created if missing)")
    push.add_argument(
        "--create-pr", action="store_true", help="open a pull request instead of committing to the branch"
    )
    push.add_argument("--commit-message", default=None)
    push.add_argument("--folder", help="export into this folder and keep it (default: a temporary folder)")
    _add_export_options(push)


def _add_export_options(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--device", default=None, help="torch device to load the model on (default: auto)")
    sub.add_argument("--weights", choices=["merged", "adapter"], default="merged",
                     help="full weights with the fine-tuning merged in (default), or the LoRA adapter alone")  # fmt: skip
    sub.add_argument(
        "--adapter", help="adapter folder for --weights adapter (default: MODEL/adapter, or the default's own)"
    )
    sub.add_argument("--adapter-base", help="base model the exported adapter names (a hub id to publish it)")
    sub.add_argument(
        "--dtype", choices=["float32", "float16", "bfloat16"], help="weights on disk (default: as in memory)"
    )
    card = sub.add_argument_group("model card")
    card.add_argument("--model-id", help="hub id the card's usage code loads (push: REPO_ID)")
    card.add_argument("--title")
    card.add_argument("--license", help="e.g. apache-2.0 (the base model's licence)")
    card.add_argument("--language", action="append", help="language code, repeatable (default: en)")
    card.add_argument("--dataset", action="append", dest="datasets", help="hub id of a training dataset, repeatable")
    card.add_argument("--base-model", help="hub id of the model the weights derive from")
    card.add_argument("--recipe", help="training_recipe.json of `inbedder train` (default: MODEL/training_recipe.json)")
    card.add_argument("--results", help="`inbedder evaluate --output` folder: evaluation table and model-index")
    card.add_argument("--results-command", help="the command that produced --results, shown in the card")
    card.add_argument("--limitation", action="append", dest="limitations", help="an extra limitation, repeatable")


def _load(args):
    from inbedder_st.cli import load

    return load(argparse.Namespace(model=args.model, device=args.device))


def _export_options(args) -> dict:
    """Export keyword arguments from the command line; a trained folder's recipe and adapter are found in it."""
    options = {"weights": args.weights, "dtype": args.dtype, "adapter": args.adapter, "adapter_base": args.adapter_base}
    card = {
        "model_id": args.model_id, "title": args.title, "license": args.license, "language": args.language,
        "datasets": args.datasets, "base_model": args.base_model, "recipe": args.recipe, "results": args.results,
        "results_command": args.results_command, "limitations": args.limitations,
    }  # fmt: skip
    model_dir = Path(args.model)
    if model_dir.is_dir():
        if card["recipe"] is None and (model_dir / "training_recipe.json").is_file():
            card["recipe"] = str(model_dir / "training_recipe.json")
        if args.weights == "adapter" and options["adapter"] is None and (model_dir / "adapter").is_dir():
            options["adapter"] = str(model_dir / "adapter")
    options.update({key: value for key, value in card.items() if value is not None})
    return {key: value for key, value in options.items() if value is not None}


def cmd_export(args) -> None:
    from inbedder_st.cli import CliError
    from inbedder_st.hub import export

    try:
        exported = export(_load(args), args.folder, overwrite=args.overwrite, **_export_options(args))
    except (FileExistsError, FileNotFoundError, NotADirectoryError, ValueError, TypeError) as error:
        raise CliError(str(error)) from None
    _print_listing(exported.folder, exported.files, exported.card)
    print(f"exported {len(exported.files)} files ({exported.size_bytes / 1e6:.1f} MB, {exported.weights} weights) "
          f"to {exported.folder} in {exported.seconds:.1f} s", file=sys.stderr)  # fmt: skip


def cmd_push(args) -> None:
    from inbedder_st.cli import CliError
    from inbedder_st.hub import PushError, export, push
    from inbedder_st.hub.pushing import DEFAULT_COMMIT_MESSAGE, check_card_names, check_exported_folder

    exported_folder = Path(args.model) if _is_exported(Path(args.model)) else None
    try:
        if args.dry_run:
            if exported_folder is not None:
                from huggingface_hub import ModelCard

                files = check_exported_folder(exported_folder)
                check_card_names(exported_folder, args.repo_id)  # what the real push would refuse
                _print_listing(exported_folder, files, ModelCard.load(exported_folder / "README.md"))
            else:
                _dry_run(args, export)
            print(f"dry run: nothing was uploaded to {args.repo_id}", file=sys.stderr)
            return
        model = exported_folder if exported_folder is not None else _load(args)
        options = {} if exported_folder is not None else _export_options(args)
        if args.folder and exported_folder is None:
            options.setdefault("model_id", args.repo_id)
            model = export(model, args.folder, **options).folder
            options = {}
        pushed = push(
            model, args.repo_id, private=args.private, commit_message=args.commit_message or DEFAULT_COMMIT_MESSAGE,
            revision=args.revision, create_pr=args.create_pr, exist_ok=args.exist_ok, **options,
        )  # fmt: skip
    except (PushError, FileExistsError, FileNotFoundError, NotADirectoryError, ValueError, TypeError) as error:
        raise CliError(str(error)) from None
    print(f"pushed {len(pushed.files)} files to {pushed.repo_id}: {pushed.url}")


def _dry_run(args, export) -> None:
    options = _export_options(args)
    options.setdefault("model_id", args.repo_id)
    model = _load(args)
    if args.folder:
        exported = export(model, args.folder, **options)
        _print_listing(exported.folder, exported.files, exported.card)
        return
    with tempfile.TemporaryDirectory(prefix="inbedder-dry-run-") as tmp:
        exported = export(model, Path(tmp) / args.repo_id.split("/")[-1], **options)
        _print_listing(exported.folder, exported.files, exported.card)


def _is_exported(folder: Path) -> bool:
    from inbedder_st.hub.pushing import is_exported_folder

    return folder.is_dir() and is_exported_folder(folder)


def _print_listing(folder: Path, files: list[str], card) -> None:
    print(f"files in {folder}:")
    for name in files:
        print(f"  {name}  ({(folder / name).stat().st_size / 1e6:.2f} MB)")
    print("model card metadata:")
    print(card.data.to_yaml())
