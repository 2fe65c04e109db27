"""Formicary's MLPClassifier inside scikit-learn's Pipeline, GridSearchCV and cross_val_score.

Run:  python examples/sklearn_pipeline.py        (a few seconds; needs formicary[sklearn])

1. a grid search over network shapes and per-layer activations, on the digits data;
2. the cross-validated accuracy of the best pipeline;
3. what scikit-learn's MLP cannot do: a validation loss curve from a user-given
   validation set, a callback, and the trained network itself (summary, save, load).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import (
    GridSearchCV,
    StratifiedKFold,
    cross_val_score,
    train_test_split,
)
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import formicary
from formicary.sklearn import MLPClassifier


def main() -> None:
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=0, stratify=y
    )

    # 1. Grid search: the same code as with sklearn.neural_network.MLPClassifier,
    #    plus an activation per hidden layer, which scikit-learn's MLP does not offer.
    pipeline = Pipeline(
        [
            ("scale", StandardScaler()),
            ("mlp", MLPClassifier(learning_rate_init=0.01, max_iter=200, random_state=0)),
        ]
    )
    grid = [
        {"mlp__hidden_layer_sizes": [(32,), (64,)], "mlp__activation": ["relu", "tanh"]},
        {"mlp__hidden_layer_sizes": [(64, 32)], "mlp__activation": [["relu", "tanh"]]},
    ]
    search = GridSearchCV(pipeline, grid, cv=3, n_jobs=1).fit(X_train, y_train)
    print("grid search (3-fold accuracy on the training set):")
    for params, score in zip(
        search.cv_results_["params"], search.cv_results_["mean_test_score"], strict=True
    ):
        shape = params["mlp__hidden_layer_sizes"]
        print(f"  hidden={shape!s:9} activation={params['mlp__activation']!s:17} {score:.4f}")
    print(f"best: {search.best_params_}")
    print(f"test accuracy of the best pipeline: {search.score(X_test, y_test):.4f}")

    # 2. cross_val_score clones the pipeline for every fold.
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    scores = cross_val_score(search.best_estimator_, X, y, cv=folds)
    print(f"5-fold accuracy on all data: {scores.mean():.4f} +- {scores.std():.4f}")

    # 3. A validation set of our own, a callback, and the network underneath.
    scaler = StandardScaler().fit(X_train)
    epochs_seen: list[int] = []
    clf = MLPClassifier(
        hidden_layer_sizes=(64, 32),
        activation=["relu", "tanh"],
        learning_rate_init=0.01,
        early_stopping=True,
        n_iter_no_change=5,
        callbacks=[lambda net, epoch, logs: epochs_seen.append(epoch)],
        random_state=0,
    )
    clf.fit(
        scaler.transform(X_train),
        y_train,
        validation_data=(scaler.transform(X_test), y_test),
    )
    print(f"\nearly stopping after {clf.n_iter_} epochs (the callback saw {len(epochs_seen)})")
    best = int(np.argmax(clf.validation_scores_))
    print(
        f"best epoch {best + 1}: validation accuracy {clf.validation_scores_[best]:.4f}, "
        f"validation loss {clf.validation_loss_curve_[best]:.4f}"
    )
    print(clf.network_.summary())
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "digits.npz"
        clf.network_.save(path)
        net = formicary.load(path)
        same = np.allclose(
            net.predict(scaler.transform(X_test)), clf.predict_proba(scaler.transform(X_test))
        )
        print(f"saved and loaded {path.name}: same outputs = {same}; metadata {net.metadata}")


if __name__ == "__main__":
    main()
