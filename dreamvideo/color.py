"""Colour statistics in CIE LAB (D65) on the torch side: images are [B,3,H,W] sRGB in [0,1]."""
from __future__ import annotations

import torch

_M = torch.tensor([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
_WHITE = torch.tensor([0.95047, 1.0, 1.08883]).view(1, 3, 1, 1)
_EPS, _K = 0.008856, 7.787


def _mix(m: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return torch.einsum("ij,bjhw->bihw", m.to(x), x)


def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """[B,3,H,W] sRGB in [0,1] -> LAB (L in [0,100], a and b about [-128,127])."""
    c = rgb.clamp(0, 1)
    lin = torch.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    t = _mix(_M, lin) / _WHITE.to(rgb)
    f = torch.where(t > _EPS, t.clamp(min=1e-12) ** (1 / 3), _K * t + 16 / 116)
    fx, fy, fz = f[:, 0:1], f[:, 1:2], f[:, 2:3]
    return torch.cat([116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)], 1)


def lab_to_rgb(lab: torch.Tensor) -> torch.Tensor:
    """Inverse of rgb_to_lab, clamped to [0,1]."""
    fy = (lab[:, 0:1] + 16) / 116
    f = torch.cat([fy + lab[:, 1:2] / 500, fy, fy - lab[:, 2:3] / 200], 1)
    t = torch.where(f ** 3 > _EPS, f ** 3, (f - 16 / 116) / _K) * _WHITE.to(lab)
    lin = _mix(torch.linalg.inv(_M), t).clamp(0, 1)
    return torch.where(lin <= 0.0031308, 12.92 * lin, 1.055 * lin.clamp(min=1e-12) ** (1 / 2.4) - 0.055).clamp(0, 1)


def stats(rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample, per-channel LAB mean and std, each [B,3,1,1]."""
    lab = rgb_to_lab(rgb)
    return lab.mean(dim=(2, 3), keepdim=True), lab.std(dim=(2, 3), keepdim=True)


def match(rgb: torch.Tensor, target: tuple[torch.Tensor, torch.Tensor], strength: float) -> torch.Tensor:
    """Move the LAB mean and std of `rgb` toward `target` (from stats()); strength 0 = unchanged, 1 = matched."""
    if strength <= 0:
        return rgb
    lab = rgb_to_lab(rgb)
    mean, std = lab.mean(dim=(2, 3), keepdim=True), lab.std(dim=(2, 3), keepdim=True)
    matched = (lab - mean) / (std + 1e-6) * target[1] + target[0]
    return lab_to_rgb(lab + strength * (matched - lab))
