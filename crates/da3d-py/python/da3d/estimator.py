"""The ``DA3D`` estimator: PyOD's detector contract over the model crate (``da3d._native``).

A table reaches the model crate as the CSV text the command line would read: a header, then one
line per row. NumPy columns are named ``x0 .. x{d-1}``; a pandas DataFrame keeps its column names,
and a column whose cells are mostly text is categorical, as the CLI reads a file.
"""

import inspect
import math
import os

import numpy as np

from . import _native

try:  # scikit-learn's base class when it is installed: clone, repr, HTML display.
    from sklearn.base import BaseEstimator as _Base
except ImportError:  # pragma: no cover - exercised only without scikit-learn
    _Base = object


def _is_frame(X):
    return type(X).__module__.startswith("pandas") and hasattr(X, "columns") and hasattr(X, "dtypes")


def _numeric_dtype(dtype):
    """Numbers (not booleans, not pandas' categories or strings)."""
    try:
        from pandas.api.types import is_bool_dtype, is_numeric_dtype

        return is_numeric_dtype(dtype) and not is_bool_dtype(dtype)
    except ImportError:
        return np.issubdtype(dtype, np.number) and not np.issubdtype(dtype, np.bool_)


def _category_columns(X):
    """A DataFrame's columns of pandas' category dtype: categorical whatever their cells hold."""
    if not _is_frame(X):
        return []
    return [str(c) for c, t in zip(X.columns, X.dtypes) if str(t) == "category"]


def to_csv(X, names=None):
    """The CSV text (bytes) the model crate reads for ``X``.

    ``X``: a 2-D NumPy array (or anything ``np.asarray`` takes), a pandas DataFrame or a pyarrow
    Table. ``names``: the column names of an array (default ``x0 .. x{d-1}``). Numbers are
    written so that they read back as the same ``float64``.
    """
    if hasattr(X, "to_pandas") and not _is_frame(X):  # a pyarrow Table
        X = X.to_pandas()
    if _is_frame(X):
        columns = [str(c) for c in X.columns]
        if len(columns) == 0:
            raise ValueError("X has no columns")
        if all(_numeric_dtype(t) for t in X.dtypes):
            return _native.numbers_csv(
                np.ascontiguousarray(X.to_numpy(dtype=np.float64)).astype("<f8", copy=False).tobytes(),
                len(X),
                len(columns),
                columns,
            )
        frame = X.copy()
        frame.columns = columns
        for c, t in zip(columns, frame.dtypes):
            if _numeric_dtype(t):  # float32 and integers as float64: exact, shortest text
                frame[c] = frame[c].astype(np.float64)
        return frame.to_csv(index=False, lineterminator="\n").encode("utf-8")
    array = np.asarray(X)
    if array.ndim != 2:
        raise ValueError(f"expected a 2-D array (rows × columns), got {array.ndim} dimension(s)")
    rows, cols = array.shape
    if names is None:
        names = [f"x{j}" for j in range(cols)]
    if cols == 0:
        raise ValueError("X has no columns")
    if _numeric_dtype(array.dtype) or array.dtype == np.bool_:
        values = np.ascontiguousarray(array, dtype="<f8")
        return _native.numbers_csv(values.tobytes(), rows, cols, list(names))
    try:
        import pandas as pd
    except ImportError as e:  # pragma: no cover
        raise ValueError("an array of text needs pandas (pip install pandas), or pass a DataFrame") from e
    return to_csv(pd.DataFrame(array, columns=list(names)))


# Rows turned into CSV text and scored at once: the text of a large X is never whole in memory.
CHUNK_ROWS = 1 << 17


def _chunks(X):
    """(first row, slice) of X, slices of at most CHUNK_ROWS rows (X itself when smaller)."""
    rows = X.num_rows if hasattr(X, "num_rows") else len(X)
    if rows <= CHUNK_ROWS:
        yield 0, X
        return
    for start in range(0, rows, CHUNK_ROWS):
        if _is_frame(X):
            yield start, X.iloc[start : start + CHUNK_ROWS]
        elif hasattr(X, "slice") and hasattr(X, "num_rows"):  # a pyarrow Table
            yield start, X.slice(start, CHUNK_ROWS)
        else:
            yield start, X[start : start + CHUNK_ROWS]


def _scores(raw):
    return np.frombuffer(raw, dtype="<f4").astype(np.float64)


class _Params:
    """get_params/set_params by the constructor's signature (scikit-learn's rule), for when
    scikit-learn is not installed; its BaseEstimator provides the same."""

    @classmethod
    def _get_param_names(cls):
        sig = inspect.signature(cls.__init__)
        return sorted(p for p in sig.parameters if p != "self")

    def get_params(self, deep=True):
        return {name: getattr(self, name) for name in self._get_param_names()}

    def set_params(self, **params):
        valid = self._get_param_names()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(f"invalid parameter {name!r} for {type(self).__name__} (valid: {', '.join(valid)})")
            setattr(self, name, value)
        return self

    def __repr__(self):
        defaults = inspect.signature(type(self).__init__).parameters
        changed = [f"{k}={v!r}" for k, v in self.get_params().items() if defaults[k].default is not v and defaults[k].default != v]
        return f"{type(self).__name__}({', '.join(changed)})"


class DA3D(_Params, _Base):
    """DA³D's detector (the ``robust`` ensemble by default) with PyOD's contract.

    Parameters
    ----------
    preset : "robust", "quick", "paper" or "reference"
        The CLI's ``--preset``.
    members : int or None
        Ensemble members (the preset's when None), ``--members``.
    seed : int
        The seed of every random stream: the same seed and rows give the same scores.
    contamination : float in [0, 0.5]
        PyOD's meaning: the share of training rows that ``threshold_`` flags (the CLI's
        ``--threshold-rate``; its default, 1 %). The CLI's ``--contamination`` (labelled anomalies
        mixed into the training rows) has no counterpart: ``fit`` trains on every row of X.
    threads : int or None
        Members trained side by side on threads (default: every core). The model does not depend
        on it.
    dataset : str or None
        A named data set's layer widths for the ``paper`` and ``reference`` presets (``--dataset``).
    categorical : list of str or None
        Columns read as categorical even when every cell is a number (``--categorical``).

    Attributes after ``fit``: ``decision_scores_`` (the training rows' scores, a row not being its
    own neighbour), ``threshold_``, ``labels_`` (0/1), ``model_`` (the native model),
    ``n_features_in_``, ``feature_names_in_`` (a DataFrame's columns).
    """

    def __init__(self, preset="robust", members=None, seed=0, contamination=0.01, threads=None, dataset=None, categorical=None):
        self.preset = preset
        self.members = members
        self.seed = seed
        self.contamination = contamination
        self.threads = threads
        self.dataset = dataset
        self.categorical = categorical

    # -- training -----------------------------------------------------------------------------

    def fit(self, X, y=None):
        """Train on every row of X (``y`` is ignored, as in PyOD). Returns self."""
        if hasattr(X, "to_pandas") and not _is_frame(X):  # a pyarrow Table
            X = X.to_pandas()
        categorical = [str(c) for c in (self.categorical or [])] + _category_columns(X)
        csv = to_csv(X)
        model, train_scores = _native.fit_csv(
            csv,
            str(self.preset),
            None if self.members is None else int(self.members),
            int(self.seed),
            float(self.contamination),
            None if self.threads is None else int(self.threads),
            self.dataset,
            categorical,
        )
        self._set_model(model)
        self.decision_scores_ = _scores(train_scores)
        self.labels_ = (self.decision_scores_ > self.threshold_).astype(int)
        if _is_frame(X):
            self.feature_names_in_ = np.asarray([str(c) for c in X.columns], dtype=object)
        return self

    def _set_model(self, model):
        self.model_ = model
        self.threshold_ = float(model.threshold)
        self.n_features_in_ = len(model.columns)

    def _check_fitted(self):
        if getattr(self, "model_", None) is None:
            raise ValueError(f"this {type(self).__name__} is not fitted yet: call fit(X) or DA3D.load(path) first")

    def _csv(self, X):
        # An array scored by a model trained on named columns: its columns, by position.
        names = None
        if not _is_frame(X) and not hasattr(X, "to_pandas"):
            shape = np.shape(X)
            if len(shape) == 2 and shape[1] == len(self.model_.columns):
                names = self.model_.columns
        return to_csv(X, names)

    # -- scoring ------------------------------------------------------------------------------

    def decision_function(self, X):
        """The anomaly score of every row of X (higher is more anomalous), shape (n,)."""
        self._check_fitted()
        if not _is_frame(X) and not hasattr(X, "num_rows"):
            X = np.asarray(X)
        parts = [_scores(self.model_.score_csv(self._csv(part), first)) for first, part in _chunks(X)]
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def predict(self, X):
        """1 for rows above ``threshold_``, else 0."""
        return (self.decision_function(X) > self.threshold_).astype(int)

    def predict_proba(self, X, method="linear"):
        """Columns (normal, anomaly) of each row's probability, as PyOD computes them from the
        training scores: ``linear`` min-max scales the score by the training rows' range (clipped
        to [0, 1]); ``unify`` is erf of the score standardised by their mean and std."""
        self._check_fitted()
        train = getattr(self, "decision_scores_", None)
        if train is None:
            raise ValueError("predict_proba needs the training rows' scores, which a bundle does not keep: fit the model in Python")
        scores = self.decision_function(X)
        if method == "linear":
            low, high = float(train.min()), float(train.max())
            p = (scores - low) / (high - low) if high > low else np.zeros_like(scores)
        elif method == "unify":
            mu, sigma = float(train.mean()), float(train.std())
            z = (scores - mu) / (sigma * math.sqrt(2)) if sigma > 0 else np.zeros_like(scores)
            p = np.array([math.erf(v) for v in z])
        else:
            raise ValueError(f"method {method!r}: 'linear' or 'unify'")
        p = np.clip(p, 0.0, 1.0)
        return np.column_stack([1.0 - p, p])

    def explain(self, X, k=3):
        """For every row of X, the ``k`` columns that push its score up, largest first:
        ``(column, value, share)`` tuples (the CLI's ``score --explain K``)."""
        self._check_fitted()
        if not _is_frame(X) and not hasattr(X, "num_rows"):
            X = np.asarray(X)
        return [row for first, part in _chunks(X) for row in self.model_.explain_csv(self._csv(part), int(k), first)]

    # -- bundles ------------------------------------------------------------------------------

    def to_bytes(self):
        """The model's ``.da3d`` bundle."""
        self._check_fitted()
        return self.model_.to_bytes()

    def save(self, path):
        """Write the model as a ``.da3d`` bundle, the file the CLI's ``train`` writes."""
        data = self.to_bytes()
        tmp = f"{os.fspath(path)}.tmp-{os.getpid()}"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
        return self

    @classmethod
    def from_bytes(cls, data):
        """The estimator of a ``.da3d`` bundle's bytes, its parameters from the bundle's config.
        It scores and predicts; ``decision_scores_`` is None (a bundle keeps no training scores)."""
        import json

        model = _native.Model.from_bytes(bytes(data))
        config = json.loads(model.header_json())["config"]
        est = cls(
            preset=config.get("preset", "robust"),
            members=config.get("ensemble", {}).get("members"),
            seed=config.get("seed", 0),
            contamination=float(model.threshold_rate),
            dataset=config.get("dataset"),
        )
        est._set_model(model)
        est.decision_scores_ = None
        return est

    @classmethod
    def load(cls, path):
        """Read a ``.da3d`` bundle written by ``save``, the CLI or the page."""
        with open(path, "rb") as f:
            return cls.from_bytes(f.read())

    def __getstate__(self):
        state = dict(self.__dict__)
        if state.get("model_") is not None:
            state["model_"] = state["model_"].to_bytes()
        return state

    def __setstate__(self, state):
        if isinstance(state.get("model_"), (bytes, bytearray)):
            state["model_"] = _native.Model.from_bytes(bytes(state["model_"]))
        self.__dict__.update(state)
