"""Named models: how to build them, their preprocessing, dreamable layers and weights."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn

from ..errors import UserError

IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
SYMMETRIC = ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))  # torchvision's transform_input: inputs scaled to [-1, 1]
TORCHVISION = "https://download.pytorch.org/models/"


@dataclass(frozen=True)
class ModelSpec:
    """Everything the tool knows about one network."""

    name: str
    build: Callable[[], nn.Module]  # a module with .stages() -> [(name, callable)] in forward order
    layers: tuple[str, ...]  # curated dreamable layers, forward order (canonical or alias names)
    default_objective: str
    mean: tuple[float, float, float] = IMAGENET[0]  # effective preprocessing: (x - mean) / std, x in [0,1]
    std: tuple[float, float, float] = IMAGENET[1]
    aliases: dict[str, str] = field(default_factory=dict)  # friendly name -> stage name
    min_size: int = 32  # smallest input side the network accepts
    weights_url: str = ""  # torchvision URL (hash-checked, cached by torch.hub)
    weights_file: Callable[[], str] | None = None  # a path shipped by an installed package
    description: str = ""


MODELS: dict[str, ModelSpec] = {}


def register(spec: ModelSpec) -> ModelSpec:
    MODELS[spec.name] = spec
    return spec


def _spec(name: str) -> ModelSpec:
    if name not in MODELS:
        raise UserError(f"unknown model '{name}': choose one of {', '.join(MODELS)} (see `dreamvideo models`)")
    return MODELS[name]


def _cached_path(url: str) -> str:
    return os.path.join(torch.hub.get_dir(), "checkpoints", os.path.basename(url))


def weights_available(name: str) -> bool:
    """True when the model's default weights can be loaded without internet."""
    spec = _spec(name)
    if spec.weights_file is not None:
        return os.path.exists(spec.weights_file())
    return bool(spec.weights_url) and os.path.exists(_cached_path(spec.weights_url))


def _state_dict(spec: ModelSpec, weights: str | None) -> dict | None:
    if weights:
        if not os.path.isfile(weights):
            raise UserError(f"weights file not found: {weights}")
        try:
            sd = torch.load(weights, map_location="cpu", weights_only=True)
        except Exception as e:  # corrupt, or a pickle of more than tensors (PyTorch's advice runs to pages)
            first = (str(e).strip().splitlines() or [type(e).__name__])[0][:120]
            raise UserError(f"cannot read weights {weights} ({first}): give a PyTorch state-dict file "
                            f"(.pth) saved with torch.save(model.state_dict())") from None
        if not isinstance(sd, dict) or not all(torch.is_tensor(v) for v in sd.values()):
            raise UserError(f"weights {weights} is not a state dict of tensors: save it with "
                            f"torch.save(model.state_dict())")
        return sd
    if spec.weights_file is not None:
        return torch.load(spec.weights_file(), map_location="cpu", weights_only=True)
    if not spec.weights_url:
        return None  # a test model with random weights
    try:
        return torch.hub.load_state_dict_from_url(spec.weights_url, map_location="cpu", check_hash=True, progress=False)
    except Exception:
        raise UserError(
            f"no weights for '{spec.name}' on this machine and no download possible: fetch {spec.weights_url} "
            f"into {os.path.dirname(_cached_path(spec.weights_url))}/ or pass --weights PATH"
        ) from None


def load_model(name: str, weights: str | None = None, device: str | torch.device = "cpu") -> "DreamNet":
    """Build the named network, load its weights strictly, and wrap it as a frozen DreamNet."""
    spec = _spec(name)
    model = spec.build()
    sd = _state_dict(spec, weights)
    if sd is not None:
        try:
            model.load_state_dict(sd, strict=True)
        except RuntimeError as e:
            first = str(e).splitlines()[0] if str(e) else "mismatch"
            raise UserError(f"weights do not fit model '{name}' ({first}); pass weights made for it") from None
    return DreamNet(model, spec).to(device)


@torch.no_grad()
def fold_batchnorm(model: nn.Module) -> nn.Module:
    """Fold each eval-mode BatchNorm into the convolution before it (modules list them in `bn_pairs`).
    For a frozen network this gives the same function with one pass less over every activation."""
    for module in list(model.modules()):
        for conv_name, bn_name in getattr(module, "bn_pairs", ()):
            conv, bn = getattr(module, conv_name, None), getattr(module, bn_name, None)
            if not isinstance(conv, nn.Conv2d) or not isinstance(bn, nn.BatchNorm2d):
                continue
            scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
            fused = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                              conv.dilation, conv.groups, bias=True).to(conv.weight)
            fused.weight.copy_(conv.weight * scale.view(-1, 1, 1, 1))
            bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
            fused.bias.copy_((bias - bn.running_mean) * scale + bn.bias)
            setattr(module, conv_name, fused)
            setattr(module, bn_name, nn.Identity())
    return model


class DreamNet(nn.Module):
    """[B,3,H,W] RGB in [0,1] -> {layer: [B,C,h,w]}, running the network only up to the deepest layer asked for."""

    def __init__(self, model: nn.Module, spec: ModelSpec):
        super().__init__()
        self.model = fold_batchnorm(model.eval()).requires_grad_(False).to(memory_format=torch.channels_last)
        self.spec = spec
        self.register_buffer("mean", torch.tensor(spec.mean).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(spec.std).view(1, 3, 1, 1))
        self.stages = model.stages()
        self.order = {name: i for i, (name, _) in enumerate(self.stages)}

    @property
    def min_size(self) -> int:
        return self.spec.min_size

    def resolve(self, layer: str) -> str:
        """Canonical stage name for a layer name or alias; a UserError lists the valid names."""
        name = self.spec.aliases.get(layer, layer)
        if name not in self.order:
            raise UserError(f"unknown layer '{layer}' for model '{self.spec.name}': choose one of "
                            f"{', '.join(self.spec.layers)} (see `dreamvideo layers {self.spec.name}`)")
        return name

    def forward(self, x: torch.Tensor, layers) -> dict[str, torch.Tensor]:
        wanted = {self.resolve(layer) for layer in layers}
        last = max(self.order[n] for n in wanted)
        h = (x - self.mean) / self.std
        out = {}
        for i, (name, f) in enumerate(self.stages[: last + 1]):
            h = f(h)
            if name in wanted:
                out[name] = h
        return out


def layer_table(model: str, size: str) -> tuple[list[tuple[str, str, str]], tuple[int, int], str]:
    """The dreamable layers of `model` for an input of `size` ('PX' or 'WxH'): rows of (name, activation shape
    'CxHxW', canonical stage name), the size as numbers, and the model's default objective."""
    import torch

    if model not in MODELS:
        raise UserError(f"unknown model '{model}': choose one of {', '.join(MODELS)}")
    w, _, h = size.lower().partition("x")
    try:
        w, h = int(w), int(h or w)
    except ValueError:
        raise UserError(f"bad --size '{size}': give PX or WxH, e.g. 224 or 640x360") from None
    spec = MODELS[model]
    if min(w, h) < spec.min_size:
        raise UserError(f"--size {w}x{h} is too small for {model}: at least {spec.min_size} px per side")
    net = DreamNet(spec.build(), spec)  # shapes only: random weights suffice
    names = {net.resolve(n): n for n in spec.layers}
    with torch.no_grad():
        acts = net(torch.zeros(1, 3, h, w), list(names))
    rows = [(name, "x".join(str(s) for s in acts[canonical].shape[1:]), canonical) for canonical, name in names.items()]
    return rows, (w, h), spec.default_objective
