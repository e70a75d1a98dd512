"""``embed_dataset``: a Ray Dataset of texts -> the same rows with one embedding column per instruction.

Wide format, chosen over a long one (a row per text and instruction): the row count and order stay the
input's, the input columns are stored once, and a part of the output holds whole rows, which is what makes
the CLI's parts resumable. Columns: ``embedding_<key>`` (and ``answer_<key>`` with ``answers=True``), where
the key is the instruction's index in ``prompts`` or its name when ``prompts`` is a dict. An embedding column
is an Arrow ``fixed_size_list<float32>[dim]``: it round-trips through Parquet and reads as a list per row in
pandas/polars, without Ray's tensor extension type.

Each actor of the pool loads the model once (``Embedder.__init__``) and runs ``encode_multi`` over a batch
(one pass over each text's shared prompt part for all instructions) where the model supports it, else
``model.encode`` per instruction (masked and seq2seq families, poolings past the first answer step).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from inbedder_st.distributed.ray_import import require_ray

EMBEDDING_PREFIX = "embedding_"
ANSWER_PREFIX = "answer_"


@dataclass(frozen=True)
class EmbedSpec:
    """Everything an actor needs to rebuild the model and process a batch (pickled to each actor)."""

    model: str
    prompts: tuple[str | None, ...]
    keys: tuple[str, ...]
    text_column: str = "text"
    batch_size: int = 32
    normalize: bool = False
    answers: bool = False
    dtype: str | None = None
    device: str = "cpu"
    threads: int = 1
    load_kwargs: dict = field(default_factory=dict)

    @property
    def columns(self) -> dict[str, str | None]:
        """Output column -> its instruction."""
        out = {f"{EMBEDDING_PREFIX}{k}": p for k, p in zip(self.keys, self.prompts)}
        if self.answers:
            out.update({f"{ANSWER_PREFIX}{k}": p for k, p in zip(self.keys, self.prompts)})
        return out


def make_spec(
    model, prompts, *, text_column, batch_size, num_gpus, num_cpus, dtype, normalize, answers, load_kwargs
) -> EmbedSpec:
    """Check the arguments on the driver, before any actor starts, and pack them for the actors."""
    if not isinstance(model, str):
        raise TypeError(f"model must be 'default', a folder or a hub id (str), got {type(model).__name__}")
    if isinstance(prompts, Mapping):
        keys, values = [str(k) for k in prompts], list(prompts.values())
    elif isinstance(prompts, (str, bytes)) or not isinstance(prompts, Sequence):
        raise TypeError(f"prompts must be a list of instructions (or a dict name -> instruction), got {type(prompts).__name__}")
    else:
        keys, values = [str(i) for i in range(len(prompts))], list(prompts)
    if not values:
        raise ValueError("prompts is empty: give at least one instruction")
    for key, prompt in zip(keys, values):
        if prompt is not None and not isinstance(prompt, str):
            raise TypeError(f"prompt {key!r} is {type(prompt).__name__}, expected str or None")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if load_kwargs.get("pooling") == "answer_sparse":
        raise ValueError("embed_dataset writes dense embeddings; answer_sparse is not supported (use answer_dist)")
    device = load_kwargs.pop("device", None) or ("cuda" if num_gpus else "cpu")
    return EmbedSpec(
        model=model, prompts=tuple(values), keys=tuple(keys), text_column=text_column, batch_size=batch_size,
        normalize=normalize, answers=answers, dtype=dtype, device=device, threads=max(1, int(num_cpus or 1)),
        load_kwargs=dict(load_kwargs),
    )  # fmt: skip


def load_for_spec(spec: EmbedSpec):
    import inbedder_st

    name = None if spec.model == "default" else spec.model
    model = inbedder_st.load_model(name, dtype=spec.dtype, device=spec.device, **spec.load_kwargs)
    if model[0].pooling == "answer_sparse":
        raise ValueError(f"{spec.model!r} pools with answer_sparse; embed_dataset writes dense embeddings only")
    return model


class Embedder:
    """The callable class of ``map_batches``: one per actor, the model loaded once."""

    def __init__(self, spec: EmbedSpec):
        import torch

        from inbedder_st.multi import supports_encode_multi

        torch.set_num_threads(spec.threads)  # one actor per reserved CPU: more threads would oversubscribe
        self.spec = spec
        self.model = load_for_spec(spec)
        self.reuse = supports_encode_multi(self.model)

    def __call__(self, table):
        """pyarrow.Table in, the same table with the output columns appended."""
        spec = self.spec
        texts = batch_texts(table, spec.text_column)
        for key, vectors in zip(spec.keys, self.embed(texts)):
            table = table.append_column(f"{EMBEDDING_PREFIX}{key}", vector_array(vectors))
        if spec.answers:
            import pyarrow as pa

            import inbedder_st

            for key, prompt in zip(spec.keys, spec.prompts):
                replies = inbedder_st.answer(self.model, texts, prompt=prompt, batch_size=spec.batch_size, show_progress_bar=False)
                table = table.append_column(f"{ANSWER_PREFIX}{key}", pa.array(replies, pa.string()))
        return table

    def embed(self, texts: list[str]):
        """[instructions, texts, dim] float32."""
        import numpy as np

        from inbedder_st.multi import encode_multi

        spec = self.spec
        if self.reuse and len(spec.prompts) > 1:  # one instruction: nothing to share, plain encode
            return encode_multi(self.model, texts, list(spec.prompts), batch_size=spec.batch_size,
                                normalize_embeddings=spec.normalize, show_progress_bar=False)  # fmt: skip
        return np.stack([
            self.model.encode(texts, prompt=p, batch_size=spec.batch_size, normalize_embeddings=spec.normalize,
                              show_progress_bar=False, convert_to_numpy=True)
            for p in spec.prompts
        ]).astype(np.float32)  # fmt: skip


def batch_texts(table, column: str) -> list[str]:
    """The batch's texts, or ValueError naming the missing column or the first null / non-text row."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if column not in table.column_names:
        raise ValueError(f"no column {column!r} in the dataset (columns: {', '.join(table.column_names)})")
    values = table.column(column)
    kind = values.type.value_type if pa.types.is_dictionary(values.type) else values.type
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        raise ValueError(f"column {column!r} holds {values.type}, not text")
    if values.null_count:
        row = pc.index(pc.is_null(values), True).as_py()
        shown = {k: v for k, v in table.slice(row, 1).to_pylist()[0].items() if not k.startswith("_inbedder")}
        raise ValueError(f"column {column!r} is null in row {row} of a batch: {str(shown)[:200]}")
    return values.to_pylist()


def vector_array(vectors):
    """[rows, dim] float32 -> an Arrow fixed_size_list<float32>[dim] array."""
    import numpy as np
    import pyarrow as pa

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    return pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1)), vectors.shape[1])


def embed_dataset(
    ds,
    model: str = "default",
    prompts: Sequence[str | None] | Mapping[str, str | None] = (None,),
    *,
    text_column: str = "text",
    batch_size: int = 32,
    concurrency: int | tuple[int, int] = 1,
    num_gpus: float = 0,
    num_cpus: float = 1,
    memory: float | None = None,
    dtype: str | None = None,
    normalize: bool = False,
    answers: bool = False,
    **load_kwargs,
):
    """``ds`` with ``embedding_<key>`` columns (and ``answer_<key>`` with ``answers=True``) appended, lazily.

    ``model``: "default", a saved InBedder folder or a hub id / LM folder, loaded once per actor with
    ``inbedder_st.load_model(..., dtype=dtype, **load_kwargs)``. ``prompts``: a list (keys 0, 1, ...) or a
    dict name -> instruction; None means the model's default instruction. ``batch_size``: rows per actor call
    and per forward pass. ``concurrency``: actors in the pool (an int, or (min, max) to autoscale); each
    reserves ``num_cpus`` CPUs (and torch uses that many threads), ``num_gpus`` GPUs (then it runs on
    "cuda") and ``memory`` bytes of RAM (Ray's scheduling reservation; default none). Rows keep their input
    order and columns; the result is a Ray Dataset, run when consumed (``write_parquet``, ``iter_batches``,
    ``take``, ...). Sets ``preserve_order`` on ``ds.context``, which ``ds`` shares with the datasets derived from it.
    """
    ray = require_ray()
    spec = make_spec(model, prompts, text_column=text_column, batch_size=batch_size, num_gpus=num_gpus,
                     num_cpus=num_cpus, dtype=dtype, normalize=normalize, answers=answers, load_kwargs=load_kwargs)  # fmt: skip
    schema = ds.schema(fetch_if_missing=False)  # known without running anything for e.g. read_parquet
    if schema is not None:
        if text_column not in schema.names:
            raise ValueError(f"no column {text_column!r} in the dataset (columns: {', '.join(schema.names)})")
        clashes = sorted(set(spec.columns) & set(schema.names))
        if clashes:
            raise ValueError(f"the dataset already has column(s) {clashes}; rename them or use other prompt keys")
    context = getattr(ds, "context", None) or ray.data.DataContext.get_current()  # Dataset.context: Ray >= 2.4x
    context.execution_options.preserve_order = True  # rows come out in input order, whichever actor ran them
    return ds.map_batches(
        Embedder, fn_constructor_kwargs={"spec": spec}, batch_size=batch_size, batch_format="pyarrow",
        compute=actor_pool(ray, concurrency), num_cpus=num_cpus, num_gpus=num_gpus, memory=memory,
    )  # fmt: skip



def actor_pool(ray, concurrency):
    """``concurrency`` as Ray's actor-pool strategy: n actors, or (min, max) to autoscale between."""
    if isinstance(concurrency, int):
        if concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {concurrency}")
        return ray.data.ActorPoolStrategy(size=concurrency)
    low, high = concurrency
    return ray.data.ActorPoolStrategy(min_size=low, max_size=high)
