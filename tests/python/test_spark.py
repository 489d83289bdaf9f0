"""The Spark recipe (da3d.spark): a table scored by ``mapInPandas`` on Spark in local mode (two
executor threads, each batch in a Python worker process) gives the single-process scores."""

import os
import shutil
import sys

import numpy as np
import pandas as pd
import pytest

import da3d
from da3d.spark import score_dataframe, threshold

from conftest import missing

# pyspark's notes on pandas 3 (it supports it, with a warning), not this package's
pytestmark = pytest.mark.filterwarnings("ignore::Warning:pyspark")


@pytest.fixture(scope="module")
def spark():
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        missing("no Java runtime for Spark (scripts/test-python.sh installs one)")
    os.environ["PYSPARK_PYTHON"] = sys.executable  # the executors' Python: this venv, with da3d
    from pyspark.sql import SparkSession

    local = (
        SparkSession.builder.master("local[2]")
        .appName("da3d-test")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.sql.shuffle.partitions", "4")
        .getOrCreate()
    )
    local.sparkContext.setLogLevel("ERROR")
    yield local
    local.stop()


@pytest.fixture(scope="module")
def table():
    rng = np.random.default_rng(7)
    frame = pd.DataFrame(rng.normal(size=(3000, 4)), columns=["a", "b", "c", "d"])
    frame["site"] = rng.choice(["north", "south"], size=len(frame))
    model = da3d.DA3D(preset="quick", members=2, seed=1).fit(frame.iloc[:1000])
    return frame, model


def _spark_frame(spark, frame):
    return spark.createDataFrame(frame.assign(row=np.arange(len(frame)))).repartition(6)


def test_spark_scores_as_one_process(spark, table, tmp_path):
    frame, model = table
    model.save(tmp_path / "model.da3d")
    expected = model.decision_function(frame)
    rows = _spark_frame(spark, frame)
    features = ["d", "c", "b", "a", "site"]
    from_model = score_dataframe(rows, model, columns=features).toPandas().sort_values("row")
    from_path = score_dataframe(rows, tmp_path / "model.da3d", columns=features, score_column="s").toPandas().sort_values("row")
    scored = score_dataframe(rows, model, columns=features)
    flagged = scored.where(scored.score > threshold(model)).select("row").toPandas()
    assert rows.rdd.getNumPartitions() == 6
    assert np.array_equal(from_model["score"].to_numpy(), expected)
    assert np.array_equal(from_path["s"].to_numpy(), expected)
    # the table's own columns come back untouched beside the score
    assert np.array_equal(from_model[["a", "b", "c", "d"]].to_numpy(), frame[["a", "b", "c", "d"]].to_numpy())
    assert list(from_model["site"]) == list(frame["site"])
    assert sorted(flagged["row"]) == list(np.flatnonzero(expected > model.threshold_))


def test_spark_refuses_what_it_cannot_score(spark, table):
    frame, model = table
    rows = _spark_frame(spark, frame.head(50))
    with pytest.raises(ValueError, match="already has a column named 'row'"):
        score_dataframe(rows, model, score_column="row")
    with pytest.raises(ValueError, match="no column named 'height'"):
        score_dataframe(rows, model, columns=["a", "height"])
    with pytest.raises(Exception, match="bundle"):
        score_dataframe(rows, b"not a bundle")
