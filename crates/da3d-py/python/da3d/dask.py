"""Scoring a Dask DataFrame where it lives: the bundle's bytes go to each worker once, every
partition is scored there by the same scorer as ``DA3D.decision_function``.

    import dask.dataframe as dd
    from da3d.dask import score_partitions, threshold

    table = dd.read_parquet("flows/")                 # or dd.read_csv, dd.from_pandas, ...
    scores = score_partitions(table, "model.da3d")    # a lazy Series, one score per row
    flagged = table[scores > threshold("model.da3d")]

Each worker process reads the bundle once and keeps the model for later partitions.
"""

import numpy as np
import pandas as pd

from ._bundles import bundle_bytes, model_of, threshold

__all__ = ["score_partition", "score_partitions", "threshold"]


def score_partition(part, bundle, columns=None):
    """The scores of one pandas partition (a Series on its index); what each task runs."""
    if columns is not None:
        part = part[list(columns)]
    if len(part) == 0:
        return pd.Series(np.empty(0), index=part.index, name="score", dtype="f8")
    return pd.Series(model_of(bundle).decision_function(part), index=part.index, name="score")


def score_partitions(frame, model, columns=None):
    """A lazy Series of the anomaly score of every row of the Dask DataFrame ``frame`` (higher is
    more anomalous), partitioned as ``frame``. ``model``: a fitted ``DA3D``, a ``.da3d`` path or
    a bundle's bytes; ``columns``: the columns to score (default: every column; the model finds
    its own by name)."""
    import dask

    bundle = dask.delayed(bundle_bytes(model), pure=True)
    return frame.map_partitions(score_partition, bundle, columns, meta=pd.Series(dtype="f8", name="score"))

