"""The Dask recipe (da3d.dask): a partitioned table scored on a local cluster of worker
processes gives the single-process scores."""

import dask.dataframe as dd
import numpy as np
import pandas as pd
from dask.distributed import Client, LocalCluster

import da3d
from da3d.dask import score_partitions, threshold


def test_a_local_cluster_scores_as_one_process(tmp_path):
    rng = np.random.default_rng(7)
    frame = pd.DataFrame(rng.normal(size=(3000, 4)), columns=["a", "b", "c", "d"])
    frame["site"] = rng.choice(["north", "south"], size=len(frame))
    model = da3d.DA3D(preset="quick", members=2, seed=1).fit(frame.iloc[:1000])
    model.save(tmp_path / "model.da3d")
    expected = model.decision_function(frame)
    table = dd.from_pandas(frame, npartitions=6)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, Client(cluster):
        from_model = score_partitions(table, model).compute()
        from_path = score_partitions(table, tmp_path / "model.da3d", columns=["d", "c", "b", "a", "site"]).compute()
        flagged = table[score_partitions(table, model) > threshold(model)].compute()
    assert np.array_equal(from_model.sort_index().to_numpy(), expected)
    assert np.array_equal(from_path.sort_index().to_numpy(), expected)
    assert list(flagged.index) == list(np.flatnonzero(expected > model.threshold_))
