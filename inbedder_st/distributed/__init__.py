"""Corpus-scale encoding on Ray Data (the optional extra ``inbedder-st[ray]``).

``embed_dataset`` maps a Ray Dataset of texts to embedding columns with a pool of actors, one model each;
``inbedder encode --engine ray`` runs it over Parquet files into resumable Parquet parts (job.py, parts.py).
Importing this package does not import Ray; calling into it without Ray raises ImportError with the
install command.
"""

from inbedder_st.distributed.embed import ANSWER_PREFIX, EMBEDDING_PREFIX, Embedder, embed_dataset

__all__ = ["ANSWER_PREFIX", "EMBEDDING_PREFIX", "Embedder", "embed_dataset"]
