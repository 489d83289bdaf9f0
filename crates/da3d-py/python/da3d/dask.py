"""Scoring a Dask DataFrame where it lives: the bundle's bytes go to each worker once, every
partition is scored there by the same scorer as ``DA3D.decision_function``.

    import dask.dataframe as dd
    from da3d.dask import score_partitions, threshold

    table = dd.read_parquet("flows/")                 # or dd.read_csv, dd.from_pandas, ...
    scores = score_partitions(table, "model.da3d")    # a lazy Series, one score per row
    flagged = table[scores > threshold("model.da3d")]

Each worker process reads the bundle once and keeps the model for later partitions.
"""

import hashlib

import numpy as np
import pandas as pd

from .estimator import DA3D

# The models a worker process has read, by the digest of their bundle.
_MODELS = {}


def _bundle_bytes(model):
    """A bundle's bytes from a fitted DA3D, a path or the bytes themselves."""
    if isinstance(model, DA3D):
        return model.to_bytes()
    if isinstance(model, (bytes, bytearray, memoryview)):
        return bytes(model)
    with open(model, "rb") as f:
        return f.read()


def _model(bundle):
    key = hashlib.blake2b(bundle, digest_size=16).digest()
    model = _MODELS.get(key)
    if model is None:
        model = _MODELS[key] = DA3D.from_bytes(bundle)
    return model


def score_partition(part, bundle, columns=None):
    """The scores of one pandas partition (a Series on its index); what each task runs."""
    if columns is not None:
        part = part[list(columns)]
    if len(part) == 0:
        return pd.Series(np.empty(0), index=part.index, name="score", dtype="f8")
    return pd.Series(_model(bundle).decision_function(part), index=part.index, name="score")


def score_partitions(frame, model, columns=None):
    """A lazy Series of the anomaly score of every row of the Dask DataFrame ``frame`` (higher is
    more anomalous), partitioned as ``frame``. ``model``: a fitted ``DA3D``, a ``.da3d`` path or
    a bundle's bytes; ``columns``: the columns to score (default: every column; the model finds
    its own by name)."""
    import dask

    bundle = dask.delayed(_bundle_bytes(model), pure=True)
    return frame.map_partitions(score_partition, bundle, columns, meta=pd.Series(dtype="f8", name="score"))


def threshold(model):
    """The model's threshold: scores above it are anomalies (``predict``)."""
    return _model(_bundle_bytes(model)).threshold_
