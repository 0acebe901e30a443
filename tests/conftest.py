"""Shared fixtures: a tiny random network registered as model 'tiny', and small images."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from dreamvideo.models import DreamNet, ModelSpec, register


class TinyNet(nn.Module):
    """Three conv stages with fixed random weights: fast stand-in for a real network."""

    def __init__(self):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.c1 = nn.Conv2d(3, 8, 3, padding=1)
        self.c2 = nn.Conv2d(8, 16, 3, stride=2, padding=1)
        self.c3 = nn.Conv2d(16, 16, 3, stride=2, padding=1)
        for p in self.parameters():
            p.data = torch.randn(p.shape, generator=g) * 0.3

    def stages(self):
        return [("c1", lambda x: torch.relu(self.c1(x))), ("c2", lambda x: torch.relu(self.c2(x))),
                ("c3", lambda x: torch.relu(self.c3(x)))]


TINY = register(ModelSpec(name="tiny", build=TinyNet, layers=("c1", "c2", "c3"), default_objective="c2",
                          min_size=8, aliases={"first": "c1"}, description="test network, random weights"))


@pytest.fixture
def tiny_net() -> DreamNet:
    return DreamNet(TinyNet(), TINY)


@pytest.fixture(scope="session")
def lite0():
    from dreamvideo.models import load_model

    return load_model("efficientnet_lite0")


@pytest.fixture
def rgb() -> np.ndarray:
    """A smooth 48x64 uint8 RGB test picture."""
    y, x = np.mgrid[0:48, 0:64]
    img = np.stack([x * 4, y * 5, (x + y) * 2], -1) % 256
    return img.astype(np.uint8)


@pytest.fixture
def photo_path(tmp_path) -> str:
    """A natural photo (scikit-image's cat) as a JPEG file."""
    import skimage.data

    from dreamvideo.images import write_image

    path = str(tmp_path / "cat.jpg")
    write_image(path, skimage.data.chelsea())
    return path


@pytest.fixture(autouse=True)
def all_cores(monkeypatch):
    """Runs compared frame for frame must use the same thread count (it changes the rounding, which a dream
    grows): the automatic choice from idle cores, which depends on the machine's load, is fixed to all cores."""
    from dreamvideo import runner

    monkeypatch.setattr(runner, "idle_cores", lambda seconds=0.1: None)
