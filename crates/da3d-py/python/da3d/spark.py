"""Scoring a Spark DataFrame where it lives: the bundle's bytes are broadcast to the executors
once, and ``mapInPandas`` scores every Arrow batch there with the same scorer as
``DA3D.decision_function``.

    from da3d.spark import score_dataframe, threshold

    table = spark.read.parquet("flows/")
    scored = score_dataframe(table, "model.da3d")          # table's columns and "score"
    flagged = scored.where(scored.score > threshold("model.da3d"))

Each Python worker reads the bundle once and keeps the model for later batches. The executors'
Python needs this package installed (as it needs pandas and pyarrow for ``mapInPandas``).
"""

import numpy as np

from ._bundles import bundle_bytes, model_of, threshold

__all__ = ["score_dataframe", "threshold"]


def score_dataframe(frame, model, columns=None, score_column="score"):
    """``frame`` (a Spark DataFrame) with one more column, ``score_column`` (double, higher is
    more anomalous), computed where the rows are; lazy, as every Spark transformation.
    ``model``: a fitted ``DA3D``, a ``.da3d`` path or a bundle's bytes; ``columns``: the columns
    to score (default: every column; the model finds its own by name)."""
    from pyspark.sql.types import DoubleType, StructField, StructType

    if score_column in frame.columns:
        raise ValueError(f"the table already has a column named {score_column!r}: name another with score_column=")
    wanted = list(frame.columns if columns is None else columns)
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise ValueError(f"the table has no column named {missing[0]!r}")
    data = bundle_bytes(model)
    model_of(data)  # a bundle that does not read fails here, on the driver, not in every task
    try:
        shipped = frame.sparkSession.sparkContext.broadcast(data)
        bundle = lambda: shipped.value  # noqa: E731 (the broadcast, not the bytes, goes with each task)
    except Exception:  # Spark Connect has no SparkContext: the bytes travel inside the function
        bundle = lambda: data  # noqa: E731

    def score_batches(batches):
        scorer = model_of(bundle())
        for batch in batches:
            scores = scorer.decision_function(batch[wanted]) if len(batch) else np.empty(0)
            yield batch.assign(**{score_column: scores})

    schema = StructType(list(frame.schema.fields) + [StructField(score_column, DoubleType(), False)])
    return frame.mapInPandas(score_batches, schema)
