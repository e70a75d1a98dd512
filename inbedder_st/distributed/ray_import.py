"""Ray is an optional extra: import it only when a distributed feature runs, with an error that says how to get it."""

from __future__ import annotations

INSTALL_HINT = 'pip install "inbedder-st[ray]"'


def require_ray():
    """The ``ray`` module with Ray Data, or ImportError naming the install command."""
    try:
        import ray
        import ray.data  # noqa: F401  (the [data] extra: pyarrow, pandas, fsspec)
    except ImportError as error:
        raise ImportError(f"inbedder_st.distributed needs Ray Data: {INSTALL_HINT} ({error})") from None
    return ray
