"""PCA "eigengalaxies" (Uzeirbegovic, Geach & Kaviraj 2020), built on sklearn's PCA."""

from __future__ import annotations

import warnings
from numbers import Integral
from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.decomposition import PCA
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_array, check_is_fitted

from .._persistence import SavedModelMixin, check_tensor_shapes
from .._validation import validate_images
from ._latent_features import LatentFeaturesMixin

__all__ = ["EigengalaxyPCA"]


class EigengalaxyPCA(SavedModelMixin, LatentFeaturesMixin, TransformerMixin, BaseEstimator):
    """Principal components of galaxy images ("eigengalaxies").

    A thin layer over :class:`sklearn.decomposition.PCA` that speaks images: it accepts
    ``(n, C, H, W)`` or flattened input, treats NaN pixels as missing (imputed by the pixel's
    training mean, i.e. no contribution to the components), exposes the components as images
    and scores galaxies with the probabilistic-PCA likelihood (Tipping & Bishop 1999) for
    outlier ranking and similarity search.

    Parameters
    ----------
    n_components : int, default=5
        Number of eigengalaxies. Uzeirbegovic et al. (2020) find 12 hold 96% of the variance
        of SDSS galaxies.
    image_shape : tuple of int or None, default=(3, 72, 72)
        ``(C, H, W)`` of the images; None takes it from 4-D input (2-D input then counts as
        ``(1, 1, n_features)``).
    whiten : bool, default=False
        Scale the components to unit variance.
    svd_solver : {"auto", "full", "covariance_eigh", "arpack", "randomized"}, default="auto"
        Passed to :class:`sklearn.decomposition.PCA`.
    random_state : int, RandomState instance or None, default=None
        Seeds the randomized and arpack solvers.

    Attributes
    ----------
    pca_ : sklearn.decomposition.PCA
        The fitted PCA on flattened images.
    eigengalaxies_ : ndarray of shape (n_components, C, H, W)
        The principal components as images.
    mean_image_ : ndarray of shape (C, H, W)
        Mean training image (NaN pixels ignored).
    explained_variance_ratio_ : ndarray of shape (n_components,)
        Fraction of the pixel variance each eigengalaxy explains.
    image_shape_ : tuple of int
        The fitted ``(C, H, W)``.
    n_features_in_ : int
        ``C * H * W``.

    See Also
    --------
    MinuetEncoder : diffusion-autoencoder latents.
    VAEEncoder : variational-autoencoder latents.

    References
    ----------
    Uzeirbegovic, Geach & Kaviraj 2020, MNRAS 498, 3284, "Eigengalaxies: describing galaxy
    morphology using principal components in image space".

    Examples
    --------
    >>> import numpy as np
    >>> from minuet_sk import EigengalaxyPCA
    >>> X = np.random.default_rng(0).normal(size=(50, 3, 8, 8)).astype("float32")
    >>> pca = EigengalaxyPCA(n_components=4, image_shape=(3, 8, 8)).fit(X)
    >>> pca.transform(X).shape, pca.eigengalaxies_.shape
    ((50, 4), (4, 3, 8, 8))
    >>> pca.get_feature_names_out()[:2].tolist()
    ['pca0', 'pca1']
    """

    _feature_prefix = "pca"

    _parameter_constraints: ClassVar[dict] = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "image_shape": [tuple, list, None],
        "whiten": ["boolean"],
        "svd_solver": [StrOptions({"auto", "full", "covariance_eigh", "arpack", "randomized"})],
        "random_state": ["random_state"],
    }

    def __init__(
        self, n_components=5, *, image_shape=(3, 72, 72), whiten=False, svd_solver="auto",
        random_state=None,
    ):
        self.n_components = n_components
        self.image_shape = image_shape
        self.whiten = whiten
        self.svd_solver = svd_solver
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the eigengalaxies.

        Parameters
        ----------
        X : array-like of shape (n_samples, C, H, W) or (n_samples, C*H*W)
            Training images; NaN pixels are missing.
        y : None
            Ignored.

        Returns
        -------
        self : EigengalaxyPCA
        """
        images, missing = validate_images(self, X, reset=True)
        self.image_shape_ = images.shape[1:]
        flat = images.reshape(len(images), -1)
        if missing is not None:
            with warnings.catch_warnings():  # a pixel missing in every image: mean 0
                warnings.simplefilter("ignore", RuntimeWarning)
                fill = np.nan_to_num(np.nanmean(flat, axis=0))
            flat = np.where(np.isnan(flat), fill, flat)
        self.pca_ = PCA(
            n_components=self.n_components, whiten=self.whiten, svd_solver=self.svd_solver,
            random_state=self.random_state,
        ).fit(flat)
        self._set_derived()
        return self

    def _flat(self, X):
        check_is_fitted(self)
        images, missing = validate_images(self, X, reset=False)
        if missing is not None:  # a missing pixel takes the training mean: no contribution
            images = np.where(missing, self.mean_image_[None], images)
        return images.reshape(len(images), -1)

    def transform(self, X):
        """Project images on the eigengalaxies.

        Parameters
        ----------
        X : array-like of shape (n_samples, C, H, W) or (n_samples, C*H*W)

        Returns
        -------
        ndarray of shape (n_samples, n_components)
        """
        flat = self._flat(X)  # checks the fit before self.pca_ is read
        # float64 arithmetic: a galaxy's coefficients do not depend on which rows share its
        # batch (float32 BLAS kernels round the tail rows of a block differently)
        return self._latent_frame(
            self.pca_.transform(flat.astype(np.float64)).astype(np.float32), X)

    def _fitted_arrays(self):
        return {k: getattr(self.pca_, k) for k in self._PCA_ARRAYS}

    def inverse_transform(self, X):
        """Images from component coefficients.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components)

        Returns
        -------
        ndarray of shape (n_samples, C*H*W)
            Flattened images, like sklearn; reshape with ``image_shape_``.
        """
        check_is_fitted(self)
        X = check_array(X, dtype=[np.float64, np.float32])
        if X.ndim != 2 or X.shape[1] != self._n_features_out:
            raise ValueError(
                f"Expected coefficients of shape (n, {self._n_features_out}); got {X.shape}."
            )
        return self.pca_.inverse_transform(X)

    def score_samples(self, X):
        """Probabilistic-PCA log-likelihood of each image (higher: more typical).

        Parameters
        ----------
        X : array-like of shape (n_samples, C, H, W) or (n_samples, C*H*W)

        Returns
        -------
        ndarray of shape (n_samples,)
            Log-likelihood under the PPCA model fitted by sklearn's PCA (the value of its
            ``score_samples``), computed in float64 so that extreme pixel values give a
            very low score rather than ``-inf``. The components being orthonormal, it is
            computed from the projections, in O(n_features n_components) per image, rather
            than through sklearn's n_features x n_features precision matrix (1.9 GB and a
            minute per 2,000 images of 3 x 72 x 72).

        Examples
        --------
        >>> import numpy as np
        >>> X = np.random.default_rng(0).random((50, 3, 8, 8))
        >>> pca = EigengalaxyPCA(n_components=4, image_shape=(3, 8, 8)).fit(X)
        >>> bool(np.allclose(pca.score_samples(X), pca.pca_.score_samples(X.reshape(50, -1))))
        True
        """
        flat = self._flat(X).astype(np.float64)
        pca = self.pca_
        noise = float(pca.noise_variance_)
        if noise <= 0:  # every direction is a component: sklearn's own route
            return pca.score_samples(flat)
        # sklearn's covariance: components^T diag(a) components + noise * I
        variance = pca.explained_variance_.astype(np.float64)
        a = np.where(variance > noise, variance - noise, 0.0) * (variance if pca.whiten else 1.0)
        centred = flat - pca.mean_
        projected = centred @ pca.components_.T.astype(np.float64)
        residual = np.einsum("ij,ij->i", centred, centred) - np.einsum("ij,ij->i", projected,
                                                                        projected)
        quadratic = residual / noise + (projected**2 / (a + noise)).sum(axis=1)
        n_features = flat.shape[1]
        log_det = np.log(a + noise).sum() + (n_features - len(a)) * np.log(noise)
        return -0.5 * (n_features * np.log(2 * np.pi) + log_det + quadratic)

    def score(self, X, y=None):
        """Mean probabilistic-PCA log-likelihood of the images.

        Parameters
        ----------
        X : array-like of shape (n_samples, C, H, W) or (n_samples, C*H*W)
        y : None
            Ignored.

        Returns
        -------
        float
        """
        return float(np.mean(self.score_samples(X)))

    _PCA_ARRAYS = ("components_", "mean_", "explained_variance_",
                   "explained_variance_ratio_", "singular_values_")

    def _saved_state(self):
        import torch

        fitted = {"image_shape_": self.image_shape_, "n_features_in_": self.n_features_in_,
                  "n_components_": self.pca_.n_components_, "n_samples_": self.pca_.n_samples_,
                  "noise_variance_": float(self.pca_.noise_variance_)}
        tensors = {k: torch.from_numpy(np.ascontiguousarray(getattr(self.pca_, k)))
                   for k in self._PCA_ARRAYS}
        return fitted, tensors

    def _restore(self, fitted, tensors, device):
        n_components, n_features = int(fitted["n_components_"]), int(fitted["n_features_in_"])
        shape = tuple(int(s) for s in fitted["image_shape_"])
        if int(np.prod(shape)) != n_features:
            raise ValueError(f"the fitted image_shape_ {shape} does not hold n_features_in_ "
                             f"{n_features} pixels")
        check_tensor_shapes({"components_": (n_components, n_features), "mean_": (n_features,),
                             "explained_variance_": (n_components,),
                             "explained_variance_ratio_": (n_components,),
                             "singular_values_": (n_components,)}, tensors)
        pca = PCA(n_components=self.n_components, whiten=self.whiten,
                  svd_solver=self.svd_solver, random_state=self.random_state)
        for k in self._PCA_ARRAYS:
            setattr(pca, k, tensors[k].numpy())
        pca.n_components_ = fitted["n_components_"]
        pca.n_samples_ = fitted["n_samples_"]
        pca.noise_variance_ = fitted["noise_variance_"]
        pca.n_features_in_ = fitted["n_features_in_"]
        self.pca_ = pca
        self.image_shape_ = tuple(fitted["image_shape_"])
        self.n_features_in_ = fitted["n_features_in_"]
        self._set_derived()

    def _set_derived(self):
        # one memory layout whether fitted or loaded, so both give bit-identical transforms
        self.pca_.components_ = np.ascontiguousarray(self.pca_.components_)
        self.mean_image_ = self.pca_.mean_.reshape(self.image_shape_)
        self.eigengalaxies_ = self.pca_.components_.reshape((-1,) + self.image_shape_)
        self.explained_variance_ratio_ = self.pca_.explained_variance_ratio_
        self._n_features_out = self.pca_.n_components_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags
