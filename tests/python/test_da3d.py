"""The da3d Python package: PyOD's detector contract, bundles shared with the CLI, and the
CLI's test ROC AUC on Mammography from the same rows and seed."""

import json
import pickle
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.metrics import roc_auc_score

import da3d
from conftest import missing

# Small and fast: the quick preset with two members.
FAST = dict(preset="quick", members=2, seed=3)


def planted(rows=400, outliers=8, cols=5, seed=0):
    """Normal rows from a correlated Gaussian, then `outliers` rows far from them."""
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(rows, 2))
    X = np.column_stack([base @ rng.normal(size=(2, cols)), rng.normal(scale=0.1, size=(rows, 1))])[:, :cols]
    X[-outliers:] += rng.choice([-6.0, 6.0], size=(outliers, cols))
    y = np.zeros(rows, dtype=int)
    y[-outliers:] = 1
    return X, y


@pytest.fixture(scope="module")
def fitted():
    X, y = planted()
    return da3d.DA3D(contamination=0.05, **FAST).fit(X), X, y


def test_fit_returns_self_and_scores_have_pyods_shapes(fitted):
    model, X, y = fitted
    assert model.decision_scores_.shape == (len(X),)
    assert model.labels_.shape == (len(X),) and set(np.unique(model.labels_)) <= {0, 1}
    assert model.n_features_in_ == X.shape[1]
    test = X[:37]
    assert model.decision_function(test).shape == (37,)
    assert model.predict(test).shape == (37,)
    for method in ("linear", "unify"):
        proba = model.predict_proba(test, method=method)
        assert proba.shape == (37, 2)
        assert np.all((proba >= 0) & (proba <= 1)) and np.allclose(proba.sum(axis=1), 1.0)
    # Higher is more anomalous: the planted rows stand out.
    assert roc_auc_score(y, model.decision_function(X)) > 0.95
    est = da3d.DA3D(**FAST)
    assert est.fit(X) is est


def test_threshold_flags_the_contamination_share(fitted):
    model, X, _ = fitted
    assert np.array_equal(model.labels_, (model.decision_scores_ > model.threshold_).astype(int))
    assert abs(model.labels_.mean() - 0.05) <= 1.5 / len(X)
    assert np.array_equal(model.predict(X), (model.decision_function(X) > model.threshold_).astype(int))


def test_the_same_seed_gives_the_same_scores_on_any_number_of_threads():
    X, _ = planted(seed=1)
    one = da3d.DA3D(threads=1, **FAST).fit(X)
    two = da3d.DA3D(threads=2, **FAST).fit(X)
    assert np.array_equal(one.decision_scores_, two.decision_scores_)
    assert np.array_equal(one.decision_function(X[:50]), two.decision_function(X[:50]))
    other = da3d.DA3D(**{**FAST, "seed": 4}).fit(X)
    assert not np.array_equal(one.decision_scores_, other.decision_scores_)


def test_clone_and_params_round_trip(fitted):
    model, _, _ = fitted
    params = model.get_params()
    assert params == dict(FAST, contamination=0.05, threads=None, dataset=None, categorical=None)
    copy = clone(model)
    assert copy.get_params() == params and not hasattr(copy, "model_")
    copy.set_params(seed=9, members=1)
    assert copy.seed == 9 and copy.members == 1 and model.seed == 3
    with pytest.raises(ValueError, match="invalid parameter 'depth'"):
        copy.set_params(depth=3)
    # The constructor only stores its arguments (scikit-learn's rule): checks happen in fit.
    assert da3d.DA3D(preset="no such").preset == "no such"


def test_save_load_and_pickle_score_the_same(fitted, tmp_path):
    model, X, _ = fitted
    path = tmp_path / "model.da3d"
    model.save(path)
    loaded = da3d.DA3D.load(path)
    assert loaded.threshold_ == model.threshold_
    assert loaded.get_params()["preset"] == "quick" and loaded.get_params()["members"] == 2
    assert np.array_equal(loaded.decision_function(X), model.decision_function(X))
    assert np.array_equal(loaded.predict(X), model.predict(X))
    unpickled = pickle.loads(pickle.dumps(model))
    assert np.array_equal(unpickled.decision_function(X), model.decision_function(X))
    assert np.array_equal(unpickled.decision_scores_, model.decision_scores_)


def test_a_data_frame_keeps_its_names_and_categories():
    X, _ = planted(rows=300, cols=3, seed=2)
    rng = np.random.default_rng(2)
    frame = pd.DataFrame(X, columns=["width", "height", "depth"])
    frame["colour"] = rng.choice(["red", "green", "blue"], size=len(frame))
    frame["grade"] = pd.Categorical(rng.choice([1, 2, 3], size=len(frame)))
    model = da3d.DA3D(**FAST).fit(frame)
    assert model.model_.columns == ["width", "height", "depth", "colour", "grade"]
    columns = json.loads(model.model_.header_json())["preprocessor"]["columns"]
    kinds = {c["name"] for c in columns if c["kind"] == "categorical"}
    assert kinds == {"colour", "grade"}
    assert list(model.feature_names_in_) == ["width", "height", "depth", "colour", "grade"]
    # Columns are found by name, as the CLI finds a file's.
    shuffled = frame[["grade", "colour", "depth", "width", "height"]]
    assert np.array_equal(model.decision_function(shuffled), model.decision_function(frame))
    why = model.explain(frame.iloc[:4], k=2)
    assert len(why) == 4 and all(len(row) == 2 for row in why)
    assert all(col in model.model_.columns and 0 <= share <= 1 for row in why for col, _, share in row)


def test_a_pyarrow_table_reads_as_its_data_frame():
    pa = pytest.importorskip("pyarrow")
    X, _ = planted(rows=200, cols=3, seed=6)
    frame = pd.DataFrame(X, columns=["p", "q", "r"])
    frame["kind"] = np.where(X[:, 0] > 0, "up", "down")
    model = da3d.DA3D(**FAST).fit(pa.Table.from_pandas(frame))
    assert model.model_.columns == ["p", "q", "r", "kind"]
    assert np.array_equal(model.decision_function(pa.Table.from_pandas(frame)), model.decision_function(frame))


def test_bad_input_raises_with_the_crates_message():
    X, _ = planted(rows=50, seed=4)
    bad = X.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match=r"missing or non-finite value .*row 3, column 'x1'"):
        da3d.DA3D(**FAST).fit(bad)
    with pytest.raises(ValueError, match="no data rows|no rows"):
        da3d.DA3D(**FAST).fit(np.empty((0, 3)))
    with pytest.raises(ValueError, match="2-D"):
        da3d.DA3D(**FAST).fit(np.arange(10.0))
    with pytest.raises(ValueError, match="unknown preset 'no such'"):
        da3d.DA3D(preset="no such").fit(X)
    with pytest.raises(ValueError, match="not fitted"):
        da3d.DA3D().decision_function(X)
    model = da3d.DA3D(**FAST).fit(X)
    with pytest.raises(ValueError, match=r"row 3 of X .*numeric column 'x1'"):
        model.decision_function(bad)
    with pytest.raises(ValueError, match="column 'x4' that the model was trained on is missing"):
        model.decision_function(pd.DataFrame(X[:, :4], columns=["x0", "x1", "x2", "x3"]))
    inf = X.copy()
    inf[0, 0] = np.inf
    with pytest.raises(ValueError, match="row 0 of X, column 'x0'"):
        model.decision_function(inf)
    with pytest.raises(ValueError, match="row 0 of X, column 'x0'"):
        da3d.DA3D(**FAST).fit(inf)


def test_large_inputs_score_in_chunks_with_rows_named_in_x(fitted, monkeypatch):
    model, X, _ = fitted
    whole = model.decision_function(X)
    monkeypatch.setattr(da3d.estimator, "CHUNK_ROWS", 64)
    assert np.array_equal(model.decision_function(X), whole)
    assert np.array_equal(model.decision_function(pd.DataFrame(X, columns=model.model_.columns)), whole)
    assert len(model.explain(X, k=1)) == len(X)
    bad = X.copy()
    bad[200, 2] = np.nan
    with pytest.raises(ValueError, match=r"row 200 of X .*numeric column 'x2'"):
        model.decision_function(bad)


def cli_scores(text):
    lines = text.strip().splitlines()
    assert lines[0].startswith("line,score,anomaly")
    return np.array([float(line.split(",")[1]) for line in lines[1:]])


def test_bundles_score_the_same_in_the_cli_and_in_python(cli, tmp_path):
    X, _ = planted(rows=300, cols=4, seed=5)
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    data = tmp_path / "data.csv"
    frame.to_csv(data, index=False)
    # Python's bundle in the CLI.
    model = da3d.DA3D(**FAST).fit(frame)
    model.save(tmp_path / "py.da3d")
    scored = cli_scores(cli("score", tmp_path / "py.da3d", data, "--quiet"))
    np.testing.assert_allclose(scored, model.decision_function(frame), rtol=0, atol=1e-5)
    # The CLI's bundle in Python; and the CLI trains the same model from the same rows and seed.
    cli("train", data, "-o", tmp_path / "cli.da3d", "--preset", "quick", "--members", "2", "--seed", "3", "--quiet")
    from_cli = da3d.DA3D.load(tmp_path / "cli.da3d")
    ours = from_cli.decision_function(frame)
    np.testing.assert_allclose(ours, cli_scores(cli("score", tmp_path / "cli.da3d", data, "--quiet")), rtol=0, atol=1e-5)
    assert np.array_equal(ours, model.decision_function(frame))
    assert from_cli.threshold_ == model.threshold_


def test_mammography_test_auc_equals_the_clis(cli, data_dir, tmp_path):
    """The paper's protocol by the CLI's own split; the package trains on its training rows."""
    path = data_dir / "mammography.csv"
    if not path.is_file():
        missing(f"{path} is missing (DA3D_DATA_DIR)")
    split = json.loads(cli("split", path, "--dataset", "mammography", "--seed", "0", "--quiet"))
    cli("train", path, "--dataset", "mammography", "--seed", "0", "-o", tmp_path / "m.da3d", "--quiet")
    header = json.loads(cli("info", tmp_path / "m.da3d", "--json"))
    table = pd.read_csv(path)
    features = table.drop(columns=["label"])
    # Input line L is data row L - 2 (line 1 is the header; no cell holds a line break).
    train = features.iloc[np.asarray(split["train_lines"]) - 2]
    test = features.iloc[np.asarray(split["test_lines"]) - 2]
    labels = table["label"].to_numpy()[np.asarray(split["test_lines"]) - 2]
    scores = da3d.DA3D(seed=0).fit(train).decision_function(test)
    auc = roc_auc_score(labels, scores)
    assert abs(auc - header["metrics"]["roc_auc"]) < 1e-6, (auc, header["metrics"])
    # Not only the figure: the very scores of the CLI's model.
    assert np.array_equal(scores, da3d.DA3D.load(tmp_path / "m.da3d").decision_function(test))


@pytest.mark.parametrize("threads", [1, 2])
def test_ctrl_c_stops_training_with_keyboard_interrupt(threads):
    script = (
        "import numpy as np, da3d\n"
        "X = np.random.default_rng(0).normal(size=(5000, 8))\n"
        "print('training', flush=True)\n"
        "try:\n"
        f"    da3d.DA3D(members=4, threads={threads}).fit(X)\n"
        "    print('finished')\n"
        "except KeyboardInterrupt as e:\n"
        "    print('interrupted:', e)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "training"
    time.sleep(2)
    child.send_signal(signal.SIGINT)
    start = time.monotonic()
    out, err = child.communicate(timeout=60)
    assert "interrupted:" in out, (out, err)
    assert time.monotonic() - start < 10
