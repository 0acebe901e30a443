"""Holding a carried dream on the scene. The map from a frame to its keyframe is a chain of optical flows, each a
little wrong, and their errors add up: the keyframe's dream slides across the scene (4 px by frame 124 of a slow pan
at 256 wide, in patches that slide each their own way). The map is nudged toward where the frame matches its
keyframe (carry.along: on every other frame). Pure tensor functions on frames [B,3,H,W] in [0,1] and flows [B,2,H,W]
in pixels."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from . import engine, flow
from .tracking import luma, slopes

SPAN = 8.0  # px: sigma of the windows over which drift is measured, on frames up to 800 px wide; more on bigger ones
GAIN = 0.25  # share of the drift measured that a frame takes out, on frames up to 800 px wide (the measuring noise
# averages out over a few frames); on bigger ones, measured scaled down further, 2 / f of that. At 1280x720 a
# quarter made the dancer clip flicker 2.46 against 2.39 without the anchor, an eighth 2.39 (look.py, 2026-11-24)
STEP = 0.5  # px: the most one call moves the map
RIDGE = 1e-5  # structure energy (luma² per px²) below which a window is too flat to tell its drift
UNSURE = 4.0  # (px of the frame scaled down)²: a window whose residual a move of this size cannot explain moves
# less in proportion (content that changed: smoke, a face turning). At 256 wide, 1 lowered smoke's flicker by 0.05
# and the dancer clip's scene memory from 0.93 to 0.71 (look.py, 2026-11-24).


def anchored(to_key: torch.Tensor, trust: torch.Tensor, x: torch.Tensor, key_frame: torch.Tensor,
             gain: float = GAIN) -> tuple[torch.Tensor, torch.Tensor]:
    """The backward flow to_key [B,2,H,W] from frame x [B,3,H,W] to its keyframe `key_frame` [B,3,H,W], moved on the
    tracked pixels (trust [B,1,H,W]) by `gain` 2 / f of one Lucas-Kanade step on the two frames' structure (luma
    less its blur: a change of light does not count), measured on the frames scaled down by f (2 up to 800 px on
    their longer side, 4 up to 1600, ...) over Gaussian windows of SPAN f / 2 px, at most STEP px. Returns it and
    the Jacobian of the move, [B,4,H,W] (a, b, c, d as tracking.jacobian less the identity), for the carry's strain.
    No host sync."""
    f = 2 * math.ceil(max(x.shape[-2:]) / 800)  # even, to at most 400 px
    b = len(x)
    small = F.avg_pool2d(torch.cat([x, key_frame, to_key / f, trust], 1), f, ceil_mode=True)
    y = luma(torch.cat([small[:, :3], small[:, 3:6]]))  # [2B,1,h,w]: the frames', the keyframes'
    y = torch.cat([y[:b], flow.warp(y[b:], small[:, 6:8])], 1)  # the keyframes' warped to the frames
    y = y - engine.gaussian_blur(y, 1.5)
    gy, gx = torch.gradient(y[:, 1:], dim=(2, 3))
    e = y[:, 1:] - y[:, :1]
    sums = F.avg_pool2d(torch.cat([gx * gx, gx * gy, gy * gy, gx * e, gy * e, e * e], 1) * small[:, 8:], 2,
                        ceil_mode=True)
    xx, xy, yy, xe, ye, ee = engine.gaussian_blur(sums, SPAN / 4).unbind(1)
    sure = UNSURE / (UNSURE + ee / ((xx + yy) / 2 + RIDGE))
    xx, yy = xx + RIDGE, yy + RIDGE
    move = torch.stack([xy * ye - yy * xe, xy * xe - xx * ye], 1) * (2 * gain * sure / (xx * yy - xy * xy))[:, None]
    move = move.clamp(-STEP, STEP)  # [B,2,h,w] px, on cells of 2 f px
    bend = slopes(move / (2 * f))  # per pixel of the frame
    both = engine.resize(torch.cat([move, bend], 1), x.shape[-2:]) * trust
    return to_key + both[:, :2], both[:, 2:]
