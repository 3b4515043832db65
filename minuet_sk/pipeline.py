"""sklearn's Pipeline, also forwarding ``predict_dist`` and ``sample`` to the last step."""

from __future__ import annotations

from sklearn import pipeline as sk_pipeline
from sklearn.utils.metaestimators import available_if

__all__ = ["Pipeline", "make_pipeline"]


def _final_estimator_has(attr):
    def check(self):
        getattr(self._final_estimator, attr)  # raises AttributeError: method unavailable
        return True

    return check


class Pipeline(sk_pipeline.Pipeline):
    """A :class:`sklearn.pipeline.Pipeline` that also forwards ``predict_dist`` and ``sample``.

    Both are available when the last step has them (e.g. :class:`FlowPropertyRegressor`):
    ``X`` goes through the transforms of the earlier steps, then to the last step's method.
    Everything else is sklearn's Pipeline.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LinearRegression
    >>> from minuet_sk import EigengalaxyPCA, Pipeline
    >>> X = np.random.default_rng(0).normal(size=(30, 1, 4, 4))
    >>> pipe = Pipeline([("pca", EigengalaxyPCA(3, image_shape=(1, 4, 4))),
    ...                  ("reg", LinearRegression())])
    >>> pipe.fit(X, X[:, 0, 0, 0]).predict(X).shape
    (30,)
    >>> hasattr(pipe, "predict_dist")  # LinearRegression has no predict_dist
    False
    """

    @classmethod
    def from_pretrained(cls, encoder="sim-grz-72-v4", flow=None, *, device="auto"):
        """Shipped weights as one model, images in and posteriors out: the encoder and the
        flow trained on its latents.

        Parameters
        ----------
        encoder : str or path-like, default="sim-grz-72-v4"
            Shipped encoder weights, or a folder written by ``MinuetEncoder.save``.
        flow : str, path-like or None, default=None
            Shipped flow weights or a folder written by ``FlowPropertyRegressor.save``;
            None: the shipped flow that was trained on this encoder's latents (known by
            the weights' fingerprint, ``latent_id_``).
        device : str, default="auto"

        Returns
        -------
        Pipeline
            ``[("minuetencoder", encoder), ("flowpropertyregressor", flow)]``, fitted; its
            ``fit`` and every clone's load the same weights. The encoder's output is pandas
            (``set_output``): images given as a DataFrame indexed by ID (the ``data`` of
            :func:`~minuet_sk.datasets.load_fits_cutouts`) get posteriors indexed by the
            same IDs.

        Examples
        --------
        >>> import numpy as np
        >>> from minuet_sk import Pipeline
        >>> model = Pipeline.from_pretrained(device="cpu")
        >>> model[-1].pretrained
        'sim-grz-72-v4-flow'
        >>> images = np.full((2, 3, 72, 72), 0.01, np.float32)
        >>> model.predict_dist(images, n_samples=50).samples.shape
        (2, 50, 3)
        """
        from minuet_sk.encoders import MinuetEncoder
        from minuet_sk.flow import FlowPropertyRegressor

        # latents as a DataFrame: a DataFrame's index (a FITS Bunch's ``data``, indexed by
        # ID) becomes the posterior's, and the flow checks which encoder made them
        encoder = MinuetEncoder.from_pretrained(encoder, device=device).set_output(
            transform="pandas")
        flow = FlowPropertyRegressor.from_pretrained(
            _flow_for(encoder) if flow is None else flow, device=device)
        return make_pipeline(encoder, flow)

    def _transform_upstream(self, X):
        for _, _, transformer in self._iter(with_final=False):
            X = transformer.transform(X)
        return X

    @available_if(_final_estimator_has("predict_dist"))
    def predict_dist(self, X, **params):
        """Transform ``X`` through the earlier steps, then call the last step's
        ``predict_dist``.

        Parameters
        ----------
        X : array-like
            Input of the first step.
        **params
            Passed to the last step's ``predict_dist`` (e.g. ``n_samples``).

        Returns
        -------
        PropertyPosterior
        """
        return self._final_estimator.predict_dist(self._transform_upstream(X), **params)

    @available_if(_final_estimator_has("sample"))
    def sample(self, X, **params):
        """Transform ``X`` through the earlier steps, then call the last step's ``sample``.

        Parameters
        ----------
        X : array-like
            Input of the first step.
        **params
            Passed to the last step's ``sample`` (e.g. ``n_samples``, ``random_state``).

        Returns
        -------
        ndarray
        """
        return self._final_estimator.sample(self._transform_upstream(X), **params)


def _flow_for(encoder):
    """The name of the shipped flow trained on ``encoder``'s latents."""
    import json

    from minuet_sk._persistence import CONFIG_NAME, pretrained_folder, shipped_models
    from minuet_sk.encoders._latent_features import latent_fingerprint

    mine = latent_fingerprint(encoder.latent_id_)
    for name in shipped_models():
        fitted = json.loads((pretrained_folder() / name / CONFIG_NAME).read_text())["fitted"]
        if latent_fingerprint(fitted.get("features_id_") or "") == mine:
            return name
    raise ValueError(
        f"No shipped flow was trained on the latents of {encoder.latent_id_}; pass flow= (a "
        "folder written by FlowPropertyRegressor.save) or train one on its latents."
    )


def make_pipeline(*steps, memory=None, verbose=False):
    """Build a :class:`minuet_sk.Pipeline` from estimators, naming the steps automatically.

    Parameters
    ----------
    *steps : estimators
    memory : str or joblib.Memory or None, default=None
        Caches fitted transformers, as in sklearn.
    verbose : bool, default=False
        Print the time of each step.

    Returns
    -------
    Pipeline

    Examples
    --------
    >>> from minuet_sk import AsinhStretch, EigengalaxyPCA, make_pipeline
    >>> make_pipeline(AsinhStretch(), EigengalaxyPCA()).steps[1][0]
    'eigengalaxypca'
    """
    steps = sk_pipeline.make_pipeline(*steps).steps
    return Pipeline(steps, memory=memory, verbose=verbose)
