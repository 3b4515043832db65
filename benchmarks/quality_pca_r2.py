"""How linearly the simulated galaxies' properties can be read from PCA components.

A yardstick for issue 4's quality target (a linear regression from 5 latents explains at
least 60% of the variance of log half-light radius, g-r and r magnitude): the held-out R^2
of a linear regression, and of 15-nearest-neighbour regression (standardised components),
from the first k principal components of the same asinh-stretched pixels that
``quality_minuet.py`` trains on (5000 training / 1000 held-out galaxies of
``make_galaxies(6000, random_state=0)``). The gap between the two says how non-linearly a
property sits in pixel space. A second table gives the 5-component linear R^2 for several
softenings of ``AsinhStretch``: how strongly the stretch compresses bright cores decides how
much of the pixel variance, which PCA (and any pixel-MSE autoencoder) ranks by, is size.

Run: python benchmarks/quality_pca_r2.py  (about 3 minutes on 2 cores once the galaxies are
cached). Results in benchmarks/results/quality_pca_r2/.
"""

import argparse

import torch
from sklearn.decomposition import PCA
from sklearn.linear_model import LinearRegression
from sklearn.neighbors import KNeighborsRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from minuet_sk import AsinhStretch

from _common import record
from _data import load_data

SOFTENINGS = (1.0, 10.0, 30.0, 100.0, 1000.0)


def linear_r2_by_softening(k=5):
    """``{softening: {property: held-out linear R^2 from k components}}``."""
    out = {}
    for softening in SOFTENINGS:
        X_train, X_test, truth_train, truth_test = load_data(5000, 1000, False, "asinh",
                                                             softening)
        pca = PCA(k, random_state=0).fit(X_train.reshape(len(X_train), -1))
        Z_train = pca.transform(X_train.reshape(len(X_train), -1))
        Z_test = pca.transform(X_test.reshape(len(X_test), -1))
        out[softening] = {name: round(float(LinearRegression().fit(Z_train, truth_train[name])
                                            .score(Z_test, truth_test[name])), 3)
                          for name in truth_train}
    return out


def main():
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    torch.set_num_threads(2)
    X_train, X_test, truth_train, truth_test = load_data(5000, 1000, False, "asinh")
    A, B = X_train.reshape(len(X_train), -1), X_test.reshape(len(X_test), -1)
    rows = []
    for k in (5, 10, 20, 50):
        pca = PCA(k, random_state=0).fit(A)
        Z_train, Z_test = pca.transform(A), pca.transform(B)
        for name in truth_train:
            models = {"linear": LinearRegression(),
                      "knn15": make_pipeline(StandardScaler(), KNeighborsRegressor(15))}
            rows.append({"components": k, "property": name, **{
                m: round(float(model.fit(Z_train, truth_train[name])
                               .score(Z_test, truth_test[name])), 3)
                for m, model in models.items()}})
    by_softening = linear_r2_by_softening()
    lines = [("Held-out R^2 from the first k principal components of asinh-stretched "
              "make_galaxies pixels (5000 train / 1000 test): linear regression / "
              "15-nearest neighbours."), "",
             "| k | " + " | ".join(truth_train) + " |", "|---" * (len(truth_train) + 1) + "|"]
    for k in (5, 10, 20, 50):
        cells = [f"{r['linear']:.2f} / {r['knn15']:.2f}" for r in rows if r["components"] == k]
        lines.append(f"| {k} | " + " | ".join(cells) + " |")
    lines += ["", ("Linear R^2 from 5 components, by AsinhStretch softening Q (default "
                   f"{AsinhStretch().softening:g}):"), "",
              "| Q | " + " | ".join(truth_train) + " |", "|---" * (len(truth_train) + 1) + "|"]
    for softening, r2 in by_softening.items():
        lines.append(f"| {softening:g} | " + " | ".join(f"{v:.2f}" for v in r2.values()) + " |")
    print("\n".join(lines))
    figures = {"rows": rows, "linear_r2_5_components_by_softening": by_softening}
    record("quality_pca_r2", figures=figures, headline=headline(figures), seed=0,
           settings={"n_train": 5000, "n_test": 1000, "softenings": list(SOFTENINGS)},
           target="the yardstick for a 5-latent encoder's linear R^2",
           markdown="\n".join(lines))


def headline(figures):
    """Linear R^2 from 5 and 50 components per property."""
    def r2(k):
        return ", ".join(f"{r['property']} {r['linear']:.2f}" for r in figures["rows"]
                         if r["components"] == k)
    return f"linear R^2, 5 components: {r2(5)}; 50 components: {r2(50)}"


if __name__ == "__main__":
    main()
