"""Optical flow, warping and masks. Flow is float32 [B,2,H,W] in pixels (x, y), backward:
frame_t(p) ≈ frame_{t-1}(p + flow_t(p)), so warping samples the past at p + flow(p).
"""
from __future__ import annotations

import functools
import math
import threading

import numpy as np
import torch
import torch.nn.functional as F

# DIS on top of OpenCV's MEDIUM preset. "dis": patches every 4 px instead of 3, 6 descent iterations instead of
# 25 and 3 variational refinement iterations instead of 5: about 0.56x the time at full HD, flicker along the
# true motion 2 % above MEDIUM's (benchmarks/flow_width.py); "dis-fine": MEDIUM itself (the quality measures'
# reference flow).
DIS_TUNING = {"dis": {"PatchStride": 4, "GradientDescentIterations": 6, "VariationalRefinementIterations": 3},
              "dis-fine": {}}


def _grey(frame: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)


_POOL: list = []
_POOL_LOCK = threading.Lock()


def pool():
    """A few threads for flows that can run side by side (made on first use)."""
    from concurrent.futures import ThreadPoolExecutor

    with _POOL_LOCK:
        if not _POOL:
            _POOL.append(ThreadPoolExecutor(max_workers=4, thread_name_prefix="flow"))
        return _POOL[0]


_DIS = threading.local()  # one DIS object per thread and method: creating one costs about as much as a call


def _dis(method: str):
    import cv2

    cache = _DIS.__dict__.setdefault("objects", {})
    if method not in cache:
        cache[method] = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        for name, value in DIS_TUNING[method].items():
            getattr(cache[method], "set" + name)(value)
    return cache[method]


def estimate(cur: np.ndarray, prev: np.ndarray, method: str = "dis", width: int = 0) -> np.ndarray:
    """Backward flow [2,H,W] float32 from uint8 RGB frames [H,W,3]: cur(p) ≈ prev(p + flow(p)). `width` > 0 and
    below the frame's: estimated on frames scaled to that width, then scaled back (values too)."""
    import cv2

    a, b = _grey(cur), _grey(prev)
    h, w = a.shape
    small = 0 < width < w
    if small:
        size = (width, max(8, round(h * width / w)))
        a, b = cv2.resize(a, size, interpolation=cv2.INTER_AREA), cv2.resize(b, size, interpolation=cv2.INTER_AREA)
    if method in DIS_TUNING:
        flow = _dis(method).calc(a, b, None)
    elif method == "farneback":
        flow = cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 4, 21, 3, 7, 1.5, 0)
    elif method == "none":
        flow = np.zeros(a.shape + (2,), np.float32)
    else:
        raise ValueError(f"unknown flow method {method}")
    if small:
        sy, sx = h / a.shape[0], w / a.shape[1]
        flow = cv2.resize(flow, (w, h), interpolation=cv2.INTER_LINEAR) * np.float32([sx, sy])
    return np.ascontiguousarray(flow.transpose(2, 0, 1), dtype=np.float32)


def _grid(flow: torch.Tensor) -> torch.Tensor:
    """Sampling grid [B,H,W,2] for grid_sample (align_corners=True) at p + flow(p)."""
    b, _, h, w = flow.shape
    scale = _grid_scale(h, w, flow.device, flow.dtype)
    return torch.addcmul(scale[1], flow, scale[0]).permute(0, 2, 3, 1).contiguous()


@functools.lru_cache(maxsize=8)
def _grid_scale(h: int, w: int, device, dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """([1,2,1,1], [1,2,H,W]): the scale from pixels to grid units, and each pixel's own place in grid units
    (made once per size, device and dtype)."""
    scale = torch.tensor([2 / max(w - 1, 1), 2 / max(h - 1, 1)], device=device, dtype=dtype).view(1, 2, 1, 1)
    ys, xs = torch.meshgrid(torch.arange(h, device=device, dtype=dtype), torch.arange(w, device=device, dtype=dtype),
                            indexing="ij")
    return scale, torch.stack([xs, ys])[None] * scale - 1


def warp(img: torch.Tensor, flow: torch.Tensor, mode: str = "bilinear") -> torch.Tensor:
    """Sample img [B,C,H,W] at p + flow(p) (flow [B,2,H,W] pixels); outside the frame: the nearest edge. A single
    image's channels are sampled as samples of their own (the same values): torch's CPU sampler shares out
    samples, not channels, among its threads (2 threads: 0.6x the time of a 9-channel bicubic warp). The grid is
    then one view for all of them; a batch keeps its layout (its grid would have to be copied per channel)."""
    b, c, h, w = img.shape
    grid = _grid(flow)
    if b == 1:
        img, grid = img.reshape(c, 1, h, w), grid.expand(c, h, w, 2)
    return F.grid_sample(img, grid, mode=mode, padding_mode="border", align_corners=True).view(b, c, h, w)


def warp_all(imgs: list[torch.Tensor], flow: torch.Tensor, mode: str = "bilinear") -> list[torch.Tensor]:
    """warp() of several [B,C_i,H,W] tensors along one flow, in one sampling: the same values as one by one."""
    return list(warp(torch.cat(imgs, 1), flow, mode).split([t.shape[1] for t in imgs], 1))


def inside(flow: torch.Tensor) -> torch.Tensor:
    """[B,1,H,W] 1 where p + flow(p) lies inside the frame."""
    _, _, h, w = flow.shape
    g = _grid(flow)
    return ((g.abs() <= 1 + 1e-6).all(-1)).unsqueeze(1).float()


def consistent(backward: torch.Tensor, forward: torch.Tensor) -> torch.Tensor:
    """Validity mask [B,1,H,W] of backward flow (t -> t-1) from the forward-backward check (Ruder et al.):
    |w_f(p + w_b(p)) + w_b(p)|² <= 0.01 (|w_f(p + w_b(p))|² + |w_b(p)|²) + 0.5, and p + w_b(p) inside the frame."""
    f = warp(forward, backward)
    err = (f + backward).pow(2).sum(1, keepdim=True)
    bound = 0.01 * (f.pow(2).sum(1, keepdim=True) + backward.pow(2).sum(1, keepdim=True)) + 0.5
    return (err <= bound).float() * inside(backward)


@functools.lru_cache(maxsize=8)
def _unit_coordinates(h: int, w: int, device) -> torch.Tensor:
    """[1,3,H,W]: each pixel's x and y, scaled so that the frame's first and last pixels are -1 and 1, and 1
    (made once per size and device)."""
    ys, xs = torch.meshgrid(torch.linspace(-1, 1, h, device=device), torch.linspace(-1, 1, w, device=device),
                            indexing="ij")
    return torch.stack([xs, ys, torch.ones_like(xs)])[None]


def fit_affine(flow: torch.Tensor, weight: torch.Tensor, cell: int = 4, ridge: float = 1e-5) -> torch.Tensor:
    """The affine map [B,2,H,W] (a flow) closest to `flow` [B,2,H,W] in weighted least squares (`weight`
    [B,1,H,W] >= 0), fitted on the weighted means of cell x cell blocks (flow and position: exact for an affine
    flow): the scene's global motion from the pixels that are tracked. No host sync: normal equations solved on
    the device (a little ridge keeps them solvable where nothing has weight)."""
    b, _, h, w = flow.shape
    unit = _unit_coordinates(h, w, flow.device)
    mass = F.avg_pool2d(weight, cell, ceil_mode=True)
    both = F.avg_pool2d(torch.cat([flow, unit.expand(b, -1, -1, -1)], 1) * weight, cell, ceil_mode=True)
    both = both / mass.clamp(min=1e-6)
    wt, basis, mean = mass.reshape(b, 1, -1), both[:, 2:].reshape(b, 3, -1), both[:, :2].reshape(b, 2, -1)
    m = (basis * wt) @ basis.transpose(1, 2) / wt.shape[-1]  # [B,3,3]
    r = (basis * wt) @ mean.transpose(1, 2) / wt.shape[-1]  # [B,3,2]
    coef = torch.linalg.solve(m + ridge * torch.eye(3, device=flow.device), r)  # [B,3,2]
    return (coef.transpose(1, 2) @ unit.view(1, 3, -1)).view(b, 2, h, w)


def zoom_flow(h: int, w: int, zoom: float, angle_deg: float = 0.0, pan=(0.0, 0.0), center=None,
              device="cpu") -> torch.Tensor:
    """Backward flow [1,2,H,W] of one frame's zoom (factor > 1 magnifies) and rotation about `center`
    (pixels; default the middle), then a pan of (x, y) pixels: warp(prev, flow) is the next frame."""
    cx, cy = center if center is not None else ((w - 1) / 2, (h - 1) / 2)
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64), indexing="ij")
    a = math.radians(angle_deg)
    dx, dy = xs - cx - pan[0], ys - cy - pan[1]
    sx = cx + (math.cos(a) * dx + math.sin(a) * dy) / zoom
    sy = cy + (-math.sin(a) * dx + math.cos(a) * dy) / zoom
    return torch.stack([sx - xs, sy - ys])[None].float().to(device)
