"""da3d: DA³D anomaly detection for tables, from Python.

``DA3D`` is an estimator with PyOD's contract (``fit``, ``decision_function``, ``predict``,
``predict_proba``, ``decision_scores_``, ``threshold_``, ``labels_``) over the da3d model crate:
the same training, scores and ``.da3d`` bundles as the ``da3d`` command line. See docs/python.md.
"""

from ._native import VERSION as __version__
from .estimator import DA3D, to_csv

__all__ = ["DA3D", "to_csv", "__version__"]
