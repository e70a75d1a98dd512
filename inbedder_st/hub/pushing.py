"""``push``: export a model (or take an exported folder) and upload it to the Hugging Face Hub with
huggingface_hub's ``HfApi`` (``whoami`` -> ``create_repo`` -> ``create_branch`` -> ``upload_folder``).

The token is only ever handed to ``HfApi``: it is never printed, logged or put in an error message.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inbedder_st.hub.exporting import export

logger = logging.getLogger(__name__)

DEFAULT_COMMIT_MESSAGE = "Upload InBedder model (inbedder-st)"


class PushError(RuntimeError):
    """A push that cannot go ahead: no token, a namespace the token cannot write to, an existing repo..."""


@dataclass
class Pushed:
    repo_id: str
    url: str  # the commit, or the pull request with create_pr=True
    files: list[str]
    folder: Path | None  # the uploaded folder when it was given (None: a temporary export, removed)


def push(
    model,
    repo_id: str,
    token: str | None = None,
    private: bool = False,
    commit_message: str = DEFAULT_COMMIT_MESSAGE,
    revision: str | None = None,
    create_pr: bool = False,
    *,
    exist_ok: bool = False,
    api=None,
    **export_options: Any,
) -> Pushed:
    """Upload ``model`` to ``repo_id`` ("user/name" or "org/name") and return the commit (or PR) url.

    ``model``: an InBedder SentenceTransformer (exported to a temporary folder with ``model_id=repo_id``
    and ``export_options``, e.g. ``weights``, ``dtype``, card fields) or the path of a folder ``export`` wrote.
    ``token``: default: ``HF_TOKEN`` or the token saved by ``hf auth login``. ``exist_ok``: upload a new
    commit to a repo that already exists (implied by ``create_pr``). ``api``: an ``HfApi`` to use instead of
    a new one (tests pass one whose network calls are captured).
    """
    from huggingface_hub import HfApi, get_token
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(repo_id)
    except HFValidationError as error:
        raise PushError(f"Invalid repo id {repo_id!r}: {error}") from None
    if "/" not in repo_id:
        raise PushError(f"Repo id {repo_id!r} needs a namespace: 'your-user-name/{repo_id}' or 'your-org/{repo_id}'.")
    token = token or get_token()
    if not token:
        raise PushError(
            "No Hugging Face token: pass token=..., set the HF_TOKEN environment variable or run `hf auth login` "
            "(a token with write access to the repo's namespace)."
        )
    api = api or HfApi(token=token)
    _check_namespace(api, token, repo_id)

    if isinstance(model, (str, Path)):
        check_card_names(Path(model), repo_id)
        return _upload(
            api, token, Path(model), repo_id, private, commit_message, revision, create_pr, exist_ok, keep=True
        )
    if export_options.setdefault("model_id", repo_id) != repo_id:
        raise PushError(
            f"model_id={export_options['model_id']!r} differs from the repo pushed to ({repo_id!r}); leave it out."
        )
    with tempfile.TemporaryDirectory(prefix="inbedder-push-") as tmp:
        exported = export(model, Path(tmp) / repo_id.split("/")[-1], **export_options)
        _refuse_local_adapter_base(exported)
        return _upload(
            api, token, exported.folder, repo_id, private, commit_message, revision, create_pr, exist_ok, keep=False
        )


EXPORTED_FILES = ("modules.json", "README.md", "inbedder_config.json")
EXPORTED_HEAD_FILES = ("modules.json", "README.md", "inbedder_head.json")  # an instruction head (inbedder_st.heads)


def is_exported_folder(folder: Path) -> bool:
    """A folder ``export`` wrote: our files and a card tagged "inbedder" (a saved or trained model folder
    has sentence-transformers' generic card instead, and training leftovers such as checkpoints)."""
    if not any(all((folder / name).is_file() for name in files) for files in (EXPORTED_FILES, EXPORTED_HEAD_FILES)):
        return False
    import yaml
    from huggingface_hub import ModelCard

    try:
        return "inbedder" in (ModelCard.load(folder / "README.md").data.tags or [])
    except (ValueError, yaml.YAMLError) as error:  # huggingface_hub's errors for a card it cannot parse
        logger.warning("%s is not a model card export wrote (%s: %s).", folder / "README.md", type(error).__name__, error)
        return False


def check_exported_folder(folder: Path) -> list[str]:
    """The files of an exported folder, or a PushError saying what is wrong."""
    if not folder.is_dir():
        raise PushError(f"{str(folder)!r} is not a folder; pass a model or a folder written by `inbedder export`.")
    if not is_exported_folder(folder):
        raise PushError(
            f"{str(folder)!r} is not a folder written by `inbedder export` (it needs {list(EXPORTED_FILES)} and a card "
            "tagged 'inbedder'); export it first."
        )
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def check_card_names(folder: Path, repo_id: str) -> None:
    """An exported folder's card must load ``repo_id`` in its usage code, not the id or path it was exported as."""
    readme = folder / "README.md"
    if readme.is_file() and f'SentenceTransformer("{repo_id}"' not in readme.read_text(encoding="utf-8"):
        raise PushError(
            f"The model card in {str(folder)!r} was written for another model id; export again with "
            f"model_id={repo_id!r} (`inbedder export ... --model-id {repo_id}`) so its usage code loads this repo."
        )


def _check_namespace(api, token: str, repo_id: str) -> None:
    """The repo's namespace must be the token's user or one of its organisations."""
    from huggingface_hub.errors import HfHubHTTPError

    try:
        me = api.whoami(token=token)
    except HfHubHTTPError as error:
        status = error.response.status_code if error.response is not None else None
        if status == 401:
            raise PushError(
                "The Hugging Face token was rejected (401 Unauthorized): it is invalid or expired."
            ) from None
        raise PushError(
            f"Cannot reach the Hugging Face Hub to check the token ({type(error).__name__}, status {status})."
        ) from None
    namespace = repo_id.split("/")[0]
    allowed = [me.get("name")] + [org.get("name") for org in me.get("orgs") or []]
    if namespace not in allowed:
        raise PushError(
            f"Unknown organisation {namespace!r} for this token (user {me.get('name')!r}). "
            f"Valid namespaces: {[name for name in allowed if name]}."
        )


def _refuse_local_adapter_base(exported) -> None:
    import json

    if exported.weights != "adapter":
        return
    base = json.loads((exported.folder / "adapter_config.json").read_text(encoding="utf-8"))["base_model_name_or_path"]
    if Path(base).exists():
        raise PushError(
            f"This adapter applies to a local base model ({base}), which Hub users cannot load. "
            "Pass adapter_base=<hub id of that base model>, or push merged weights (weights='merged')."
        )


def _upload(api, token, folder, repo_id, private, commit_message, revision, create_pr, exist_ok, keep) -> Pushed:
    from huggingface_hub.errors import HfHubHTTPError

    files = check_exported_folder(folder)
    try:
        api.create_repo(
            repo_id=repo_id, token=token, private=private, repo_type="model", exist_ok=exist_ok or create_pr
        )
    except HfHubHTTPError as error:
        status = error.response.status_code if error.response is not None else None
        if status == 409:
            raise PushError(
                f"Repository {repo_id!r} already exists; pass exist_ok=True (--exist-ok) to upload a new commit to it, or create_pr=True."
            ) from None
        if status in (401, 403, 404):
            raise PushError(
                f"Cannot create {repo_id!r} (HTTP {status}): the token has no write access to namespace {repo_id.split('/')[0]!r}."
            ) from None
        raise PushError(f"Creating {repo_id!r} failed (HTTP {status}).") from None
    if revision is not None:
        api.create_branch(repo_id=repo_id, branch=revision, token=token, exist_ok=True)
    size = sum((folder / f).stat().st_size for f in files)
    logger.info(
        "Uploading %d files (%.1f MB) to %s%s", len(files), size / 1e6, repo_id, f"@{revision}" if revision else ""
    )
    info = api.upload_folder(
        repo_id=repo_id,
        folder_path=str(folder),
        token=token,
        repo_type="model",
        commit_message=commit_message,
        revision=revision,
        create_pr=create_pr,
    )
    url = (getattr(info, "pr_url", None) if create_pr else None) or getattr(info, "commit_url", None) or str(info)
    logger.info("Pushed %s: %s", repo_id, url)
    return Pushed(repo_id=repo_id, url=url, files=files, folder=folder if keep else None)
