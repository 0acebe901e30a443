"""Quality measures for dreamed videos (frames are uint8 [H,W,3] RGB numpy).

Temporal warping error after Lai et al. (ECCV 2018): for each consecutive pair, backward DIS flow of the
*input* frames, a forward-backward validity mask (pixels leaving the frame excluded), and
e_t = mean over valid pixels of |Y(V_t) - warp(Y(V_{t-1}))| on luma in [0,1]; E_warp = mean of e_t over
pairs, pairs across a scene cut left out.
"""
from __future__ import annotations

import numpy as np
import torch

from . import flow


def luma(frames: list[np.ndarray]) -> torch.Tensor:
    """[N,1,H,W] luma in [0,1]."""
    x = torch.from_numpy(np.stack(frames)).float().div(255)
    return (0.299 * x[..., 0] + 0.587 * x[..., 1] + 0.114 * x[..., 2])[:, None]


def input_flows(frames: list[np.ndarray]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(backward flow [1,2,H,W], validity [1,1,H,W]) for each pair t-1 -> t of the input."""
    out = []
    for prev, cur in zip(frames, frames[1:]):
        b = torch.from_numpy(flow.estimate(cur, prev))[None]
        f = torch.from_numpy(flow.estimate(prev, cur))[None]
        out.append((b, flow.consistent(b, f)))
    return out


def warping_error(frames: list[np.ndarray], flows, cuts: set[int] = frozenset()) -> float:
    """E_warp of `frames` under the input's flows; a pair (t-1, t) with t in `cuts` is left out."""
    y = luma(frames)
    errors = []
    for t in range(1, len(frames)):
        if t in cuts:
            continue
        b, valid = flows[t - 1]
        diff = (y[t:t + 1] - flow.warp(y[t - 1:t], b)).abs() * valid
        errors.append(float(diff.sum() / valid.sum().clamp(min=1)))
    return float(np.mean(errors))


def strength(out: list[np.ndarray], inp: list[np.ndarray]) -> float:
    """Mean |output - input| over pixels and frames, RGB in [0,1]."""
    return float(np.mean([np.abs(o.astype(np.float32) - i) .mean() / 255 for o, i in zip(out, inp)]))


def detail(frames: list[np.ndarray]) -> float:
    """Mean |Laplacian| of luma: how much fine detail the frames hold."""
    import cv2

    y = luma(frames).numpy()[:, 0]
    return float(np.mean([np.abs(cv2.Laplacian(f, cv2.CV_32F)).mean() for f in y]))


def loop_seam(frames: list[np.ndarray], step_flow: torch.Tensor) -> tuple[float, float]:
    """(seam, typical): seam = mean |Z(last) - first|, typical = median over i of mean |Z(f_i) - f_{i+1}|,
    where Z is one frame's zoom step (warp by step_flow [1,2,H,W]); RGB in [0,1]."""
    x = torch.from_numpy(np.stack(frames)).float().div(255).permute(0, 3, 1, 2)
    moved = flow.warp(x, step_flow.expand(len(x), -1, -1, -1))
    steps = (moved[:-1] - x[1:]).abs().mean(dim=(1, 2, 3))
    seam = (moved[-1] - x[0]).abs().mean()
    return float(seam), float(steps.median())
