"""The feedback loops. Video: each lane carries its dream from frame to frame along the optical flow.

Keyframes (a lane's first frame, the first after a cut, or when under `rekey` of the pixels are still
tracked) get the full octave dream. Later frames carry the keyframe's detail by composing the flows
back to the keyframe and resampling that detail once (re-warping every frame would blur it away), plus
what later steps added, warped from the previous frame, all under the validity masks; then a light
ascent on the finest octave, faster where nothing reliable was carried, with a smoothed gradient.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from . import engine, flow
from .images import to_tensor


@dataclass
class Carry:
    """A lane's state after a frame; tensors are [1,C,H,W] on the device."""

    key_detail: torch.Tensor  # [1,3,H,W] keyframe dream minus keyframe input
    to_key: torch.Tensor  # [1,2,H,W] backward flow from the current frame to the keyframe
    tracked: torch.Tensor  # [1,1,H,W] 1 where to_key is still reliable
    extra: torch.Tensor  # [1,3,H,W] detail added after the keyframe

    def to(self, device) -> "Carry":
        return Carry(*(t.to(device) for t in (self.key_detail, self.to_key, self.tracked, self.extra)))


@dataclass
class FrameIn:
    """One lane's input for one tick: the frame and, unless it starts a shot, its flow to the previous one."""

    index: int  # frame number in the input video (seeds the randomness)
    frame: np.ndarray  # uint8 [H,W,3]
    backward: np.ndarray | None = None  # [2,H,W] flow to the previous frame
    forward: np.ndarray | None = None  # [2,H,W] flow from the previous frame
    cut: bool = False  # first frame of a shot


def frame_generator(seed: int, index: int) -> torch.Generator:
    """Randomness from the frame's number, never from how many frames came before (lanes, resume)."""
    return torch.Generator().manual_seed(seed * 1_000_003 + index)


class VideoDreamer:
    """Dreams one frame for each of several lanes per call, carrying each lane's state. With animated
    settings (an Animator), each lane's frame gets the settings of its own time."""

    def __init__(self, dreamer, video_cfg, animator=None):
        from .reactive import FrameSettings

        self.dreamer, self.animator = dreamer, animator if animator is not None and animator.active else None
        cfg = dreamer.cfg
        self.fixed = FrameSettings(cfg.dream, video_cfg, cfg.zoom, dreamer.objective)
        # On CPU each lane is dreamed alone: batching gains little there, and some kernels round differently
        # for a batch, which DeepDream would grow into frames that differ from a 1-lane render.
        self.one_by_one = engine.microbatch_size(cfg.dream, torch.empty(0, device=dreamer.device)) == 1

    def _tensor(self, a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(a)[None].to(self.dreamer.device)

    def _carry_along(self, carry: Carry, item: FrameIn) -> Carry:
        """Move a lane's carry to the new frame along its backward flow, under the consistency mask."""
        back = self._tensor(item.backward)
        valid = flow.consistent(back, self._tensor(item.forward))
        to_key = flow.compose(carry.to_key, back)
        tracked = (flow.warp(carry.tracked, back) > 0.5).float() * valid
        return Carry(carry.key_detail, to_key, tracked, flow.warp(carry.extra, back) * valid)

    def step(self, items: list[FrameIn], carries: list[Carry | None]) -> tuple[list[np.ndarray], list[Carry]]:
        """Dream one frame per lane. Returns uint8 [H,W,3] frames and the new carries."""
        if self.animator is None and not self.one_by_one:
            return self._step(self.fixed, items, carries)
        frames, new = [], []
        for item, carry in zip(items, carries):  # each lane at its own time, or alone
            s = self.animator.at(item.index) if self.animator else self.fixed
            (f,), (c,) = self._step(s, [item], [carry])
            frames.append(f)
            new.append(c)
        return frames, new

    def _step(self, s, items: list[FrameIn], carries: list[Carry | None]):
        seed, v = self.dreamer.cfg.run.seed, s.video
        moved: list[Carry | None] = []
        for item, carry in zip(items, carries):
            c = None
            if carry is not None and not item.cut and item.backward is not None and v.flow != "none":
                c = self._carry_along(carry, item)
            elif carry is not None and not item.cut and v.flow == "none":
                c = carry  # no motion compensation: carry in place
            moved.append(c)
        tracked = [i for i, c in enumerate(moved) if c is not None and v.flow != "none"]
        fractions = torch.stack([moved[i].tracked.mean() for i in tracked]).tolist() if tracked else []
        rebase = [False] * len(items)
        for i, fraction in zip(tracked, fractions):  # one host sync per tick, not one per lane
            if fraction < v.rekey:
                rebase[i] = v.rekey_mode == "rebase"
                moved[i] = moved[i] if rebase[i] else None
        out: list = [None] * len(items)
        new: list = [None] * len(items)
        keys = [i for i, c in enumerate(moved) if c is None]
        light = [i for i, c in enumerate(moved) if c is not None]
        if keys:
            x = torch.cat([to_tensor(items[i].frame, self.dreamer.device) for i in keys])
            y = self.dreamer.dream(x, [frame_generator(seed, items[i].index) for i in keys], None, s.dream, s.objective)
            for j, i in enumerate(keys):
                detail = y[j:j + 1] - x[j:j + 1]
                zeros = torch.zeros_like(detail)
                new[i] = Carry(detail, torch.zeros_like(detail[:, :2]), torch.ones_like(detail[:, :1]), zeros)
                out[i] = y[j:j + 1]
        if light:
            self._light(s, items, moved, light, rebase, out, new, seed)
        frames = [(o.clamp(0, 1) * 255).round().byte()[0].permute(1, 2, 0).cpu().numpy() for o in out]
        return frames, new

    def _light(self, s, items, moved, idx, rebase, out, new, seed) -> None:
        v = s.video
        base = torch.cat([to_tensor(items[i].frame, self.dreamer.device) for i in idx])
        cs = [moved[i] for i in idx]
        tracked = torch.cat([c.tracked for c in cs])
        key = torch.cat([flow.warp(c.key_detail, c.to_key) for c in cs]) * tracked * v.blend
        x = (base + key + torch.cat([c.extra for c in cs])).clamp(0, 1)
        step_map = s.dream.step_size * v.light_step * (1 + (v.reveal_boost - 1) * (1 - tracked))
        y = engine.ascend(self.dreamer.net, s.objective, x, replace(s.dream, smooth=v.light_smooth),
                          [frame_generator(seed, items[i].index) for i in idx], v.light_steps, step_map)
        extra = y - base - key
        for j, i in enumerate(idx):
            c, out[i] = cs[j], y[j:j + 1]
            if rebase[i]:  # this output becomes the lane's new keyframe
                detail = y[j:j + 1] - base[j:j + 1]
                new[i] = Carry(detail, torch.zeros_like(c.to_key), torch.ones_like(c.tracked), torch.zeros_like(detail))
            else:
                new[i] = Carry(c.key_detail, c.to_key, c.tracked, extra[j:j + 1])


def prepare_flows(prev: np.ndarray | None, cur: np.ndarray, method: str) -> tuple:
    """Backward and forward flow between consecutive input frames (None for a lane's first frame)."""
    if prev is None or method == "none":
        return None, None
    return flow.estimate(cur, prev, method), flow.estimate(prev, cur, method)


def zoom_step_flow(h: int, w: int, zcfg, fps) -> torch.Tensor:
    """Backward flow [1,2,H,W] of one frame: the per-second zoom, rotation and pan spread over fps frames."""
    from .config import parse_pair

    pan = parse_pair(zcfg.pan, "pan") or (0.0, 0.0)
    return flow.zoom_flow(h, w, zcfg.zoom ** (1 / float(fps)), zcfg.rotate / float(fps),
                          (pan[0] / float(fps), pan[1] / float(fps)), parse_pair(zcfg.center, "center"))


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
