"""What the cluster recipes (``da3d.dask``, ``da3d.spark``) share: a bundle's bytes from what the
caller holds, and the models a worker process has already read, kept by their bundle's digest."""

import hashlib

from .estimator import DA3D

# The models this process has read, by the digest of their bundle.
_MODELS = {}


def bundle_bytes(model):
    """A bundle's bytes from a fitted DA3D, a path or the bytes themselves."""
    if isinstance(model, DA3D):
        return model.to_bytes()
    if isinstance(model, (bytes, bytearray, memoryview)):
        return bytes(model)
    with open(model, "rb") as f:
        return f.read()


def model_of(bundle):
    """The model of a bundle's bytes, read once per process."""
    key = hashlib.blake2b(bundle, digest_size=16).digest()
    model = _MODELS.get(key)
    if model is None:
        model = _MODELS[key] = DA3D.from_bytes(bundle)
    return model


def threshold(model):
    """The model's threshold: scores above it are anomalies (``predict``)."""
    return model_of(bundle_bytes(model)).threshold_
