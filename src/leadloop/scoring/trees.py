"""A gradient-boosted trees model's variant probabilities without scoring each variant row.

``predict._variants`` scores a lead again once per column where it differs from the typical
lead (about fifteen rows a lead), through the whole pipeline and all of its trees. For the
trees model (``training._pipeline``: a column transformer, then HistGradientBoostingClassifier,
calibrated) the same numbers come cheaper, exactly:

- every step of the column transformer, and the classifier's own encoding, works column by
  column, so a variant's encoded row is the lead's with the columns that come from raw column j
  replaced by the typical lead's: no variant row is transformed;
- the raw score is the baseline plus each tree's leaf value, so setting column j to the typical
  value changes only the trees that split on one of j's encoded columns: only those trees
  score the variant rows (a tree uses about ten of some sixty columns), and columns no tree
  uses change nothing.

The trees read the rows as the classifier's bins (one byte a column, as in training), which
sends every row down the same branch as its values would (a bin is "at most this threshold"
exactly when the value is; unknown categories go where missing values go, either way) and
costs about half of reading the values. The calibrator then maps the raw scores to
probabilities, as the pipeline's ``predict_proba`` does. Relies on the classifier's fitted
trees (``_predictors``) and encoding (``_bin_mapper``, ``_preprocess_X``), private to
scikit-learn: ``tree_variants`` answers None for anything it does not recognise, and
``predict._variants`` scores the variant rows instead.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np

_lock = threading.Lock()


def transformed_owners(prep: Any) -> list[int] | None:
    """The raw column each output column of a fitted ``training._pipeline`` column transformer
    comes from (one-hot: one per level; ordinal: one; numeric: the value, then its missing
    indicator if it has one); None for a transformer of another shape."""
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder

    owners: list[int] = []
    for name, transformer, columns in prep.transformers_:
        if len(columns) == 0 or (name == "remainder" and transformer == "drop"):
            continue  # no column: not fitted, no output
        if isinstance(transformer, OneHotEncoder):
            for column, width in zip(columns, transformer._n_features_outs, strict=True):
                owners += [column] * int(width)
        elif isinstance(transformer, OrdinalEncoder):
            owners += list(columns)
        elif name == "numeric":
            imputer = transformer.named_steps.get("impute")
            if not isinstance(imputer, SimpleImputer):
                return None
            owners += list(columns)
            if imputer.add_indicator:
                owners += [columns[k] for k in imputer.indicator_.features_]
        else:
            return None
    return owners


@dataclass(frozen=True)
class _TreesPart:
    """One calibrated classifier: its column transformer, its trees and what each reads."""

    prep: Any
    clf: Any
    calibrator: Any
    trees: list[Any]
    columns_of: dict[int, np.ndarray]  # raw column -> the classifier's encoded columns
    trees_of: dict[int, list[int]]  # raw column -> the trees that split on one of those


_parts_cache: weakref.WeakKeyDictionary[Any, list[_TreesPart] | None] = weakref.WeakKeyDictionary()


def tree_variants(
    pipeline: Any, x: np.ndarray, typical: np.ndarray, differs: np.ndarray
) -> tuple[np.ndarray, np.ndarray] | None:
    """p, and q[i, j] = p of row i with column j set to `typical[0, j]` where `differs[i, j]`
    (p elsewhere), as ``predict._variants`` computes them; None when `pipeline` is not a
    calibrated trees pipeline."""
    with _lock:
        if pipeline not in _parts_cache:
            _parts_cache[pipeline] = _parts_of(pipeline)
        parts = _parts_cache[pipeline]
    if parts is None:
        return None
    n, m = x.shape
    p, q = np.zeros(n), np.zeros((n, m))
    for part in parts:
        binned, binned_typical = (
            part.clf._bin_mapper.transform(
                part.clf._preprocess_X(part.prep.transform(rows), reset=False)
            )
            for rows in (x, typical)
        )
        missing = part.clf._bin_mapper.missing_values_bin_idx_

        def leaves(tree: Any, rows: np.ndarray, missing: int = missing) -> Any:
            return tree.predict_binned(rows, missing_values_bin_idx=missing, n_threads=1)

        # The raw score as HistGradientBoostingClassifier._raw_predict adds it up.
        raw = np.zeros(n, dtype=part.clf._baseline_prediction.dtype)
        raw += part.clf._baseline_prediction.ravel()[0]
        each = []
        for tree in part.trees:
            values = leaves(tree, binned)
            raw += values
            each.append(values)
        moved = np.repeat(raw[:, None], m, axis=1)
        for j, trees in part.trees_of.items():
            rows = np.flatnonzero(differs[:, j])
            if rows.size == 0:
                continue
            variant = binned[rows]
            variant[:, part.columns_of[j]] = binned_typical[0, part.columns_of[j]]
            delta = np.zeros(rows.size)
            for k in trees:
                delta += leaves(part.trees[k], variant) - each[k][rows]
            moved[rows, j] = raw[rows] + delta
        p += part.calibrator.predict(raw)
        q += part.calibrator.predict(moved.ravel()).reshape(n, m)
    return p / len(parts), q / len(parts)


def _parts_of(pipeline: Any) -> list[_TreesPart] | None:
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import HistGradientBoostingClassifier

    if not isinstance(pipeline, CalibratedClassifierCV) or len(pipeline.classes_) != 2:
        return None
    parts: list[_TreesPart] = []
    for fold in pipeline.calibrated_classifiers_:
        steps = dict(getattr(fold.estimator, "named_steps", {}))
        prep, clf = steps.get("prep"), steps.get("clf")
        if prep is None or not isinstance(clf, HistGradientBoostingClassifier):
            return None
        if len(fold.calibrators) != 1 or clf.n_trees_per_iteration_ != 1:
            return None
        owners = transformed_owners(prep)
        if owners is None or len(owners) != clf.n_features_in_:
            return None
        # The classifier's own encoding puts its categorical columns first, in order.
        categorical = getattr(clf, "is_categorical_", None)
        if categorical is None:
            order = np.arange(len(owners))
        else:
            order = np.concatenate([np.flatnonzero(categorical), np.flatnonzero(~categorical)])
        encoded_owner = np.asarray(owners, dtype=np.int64)[order]
        trees = [iteration[0] for iteration in clf._predictors]
        splits = [
            set(tree.nodes["feature_idx"][tree.nodes["is_leaf"] == 0].tolist()) for tree in trees
        ]
        columns_of: dict[int, np.ndarray] = {}
        trees_of: dict[int, list[int]] = {}
        for j in sorted(set(owners)):
            columns = np.flatnonzero(encoded_owner == j)
            used = [k for k, split in enumerate(splits) if split.intersection(columns.tolist())]
            if used:  # a column no tree splits on changes nothing
                columns_of[j], trees_of[j] = columns, used
        parts.append(_TreesPart(prep, clf, fold.calibrators[0], trees, columns_of, trees_of))
    return parts
