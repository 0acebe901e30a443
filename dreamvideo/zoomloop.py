"""The zoom feedback loop: each frame is the previous one zoomed, dreamed a little and colour-anchored; and the
crossfade that makes a rendered run of frames loop seamlessly."""
from __future__ import annotations

from dataclasses import replace

import torch

from . import flow
from .carry import frame_generator


def zoom_step_flow(h: int, w: int, zcfg, fps) -> torch.Tensor:
    """Backward flow [1,2,H,W] of one frame: the per-second zoom, rotation and pan spread over fps frames."""
    pan = zcfg.pan  # (x, y) pixels per second; an animated pan is resolved to one before (reactive.Animator)
    return flow.zoom_flow(h, w, zcfg.zoom ** (1 / float(fps)), zcfg.rotate / float(fps),
                          (pan[0] / float(fps), pan[1] / float(fps)), zcfg.center)


def zoom_frames(dreamer, start: torch.Tensor, zcfg, fps, count: int, animator=None):
    """The zoom feedback loop: yields `count` float frames [1,3,H,W]. Each frame is the previous one zoomed
    (sub-pixel, in float: never re-quantized), dreamed a few steps and pulled toward the first frame's colours.
    An active `animator` gives each frame its own zoom, rotation, dream settings and objective."""
    from . import color

    seed = dreamer.cfg.run.seed
    animated = animator is not None and animator.active
    s = animator.at(0) if animated else None
    frame = dreamer.dream(start, frame_generator(seed, 0), None, s.dream if s else None, s.objective if s else None)
    anchor = color.stats(frame)
    yield frame
    motion, step_flow = None, None
    for i in range(1, count):
        s = animator.at(i) if animated else None
        z = s.zoom if s else zcfg
        if (z.zoom, z.rotate, z.pan) != motion:  # the step flow changes only when the motion does
            motion, step_flow = (z.zoom, z.rotate, z.pan), zoom_step_flow(*frame.shape[-2:], z, fps).to(frame.device)
        d = s.dream if s else dreamer.cfg.dream
        step_cfg = replace(d, octaves=zcfg.octaves, steps=zcfg.steps if not s or "dream.steps" not in animator.values
                           else d.steps, from_noise=False)
        frame = flow.warp(frame, step_flow)
        frame = dreamer.dream(frame, frame_generator(seed, i), None, step_cfg, s.objective if s else None)
        frame = color.match(frame, anchor, zcfg.color)
        yield frame


def looped(frames, count: int, overlap: int, progress=None):
    """Make `count` frames loop from `count + overlap` rendered ones: the first `overlap` frames are crossfaded
    from the frames that follow the last one, so frame count-1 leads into frame 0 like any two neighbours.
    `progress(1)` is told of each rendered frame, the held head included."""
    head = []
    for i, f in enumerate(frames):
        if progress:
            progress(1)
        if i < overlap:
            head.append(f.cpu())
        elif i < count:
            yield i, f
        else:
            k = i - count
            t = k / overlap  # 0 at the seam: pure continuation; toward 1: the original head
            yield k, (1 - t) * f + t * head[k].to(f.device)
