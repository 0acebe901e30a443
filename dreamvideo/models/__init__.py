"""Model registry: name -> ModelSpec, and DreamNet, which maps images to activations."""
from . import zoo  # noqa: F401  (fills the registry with the built-in models)
from .registry import MODELS, DreamNet, ModelSpec, layer_table, load_model, register, weights_available

__all__ = ["MODELS", "DreamNet", "ModelSpec", "load_model", "register", "weights_available"]
