"""The video feedback loop: each lane carries its dream from frame to frame along the optical flow.

Keyframes (a lane's first frame, the first after a cut) get the full octave dream, its new detail softened to what
motion can carry (more on bigger frames, whose flow errs by more pixels, and coarser on smooth regions, where the
flow errs most). Later frames carry the keyframe's detail by composing the flows back to the keyframe and resampling
that detail once (re-warping every frame would blur it away), plus what later frames added, warped from the previous
frame; the composed map is nudged, every other frame, toward where the frame matches its keyframe, so that the
flows' small errors do not add up to a dream sliding across the scene (anchor.anchored). Detail is carried only
where it can be trusted: each step from inside the previous frame onto matching content (and, with
video.consistency, flows that agree), and the content there still matching what the detail was dreamed on (so a
person who leaves takes their dream along: no ghosts); once dropped at a pixel it is not carried there again. The
dream's local energy is held at the keyframe's from both sides: excess decays, and the frame is dreamed a little at
one of its finest octaves (each in turn), each pixel as much as its dream falls short: new and changed content grows
a full dream within a few frames (where nothing is carried, at the coarser octaves too: the regrow), carried dream
is held, neither faded nor swollen; what the refresh adds is eased in: half of it now, the rest carried along the
flow to the next frames (a refresh step is mostly new noise on every frame: spread, it flickers less).
When enough of the frame has its carried dream drawn out by the scene (or, with
video.repaint_lost, has lost its keyframe's dream), those pixels get a keyframe's full dream (a repaint) and the
frame becomes the keyframe; when too little is tracked the current output becomes the keyframe (it continues the
same texture: no jump). A keyframe dreamed on a picture the frame no longer shows (in the dark of a fade, on a
blurred frame, on the other picture of a dissolve) is dreamed again, crossfaded (tracking.holds). The output shows
the dream as far as the frame's light lets, none on black frames or letterbox bars (tracking.shown), and through an
editor's fade from or to black or white as much as the frame shows of the picture (FrameIn.fade, found ahead by
lanes.fade_shares).
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from . import engine, flow
from .carry import (REPAINT_FADE, Carry, Check, FrameIn, along, check, frame_generator, key_detail, keyframe, rebased,
                    stretch_limit)
from .detail import by_size, coarse_shortfall, ease, fine_margin, hold, soften_detail
from .images import to_tensor
from .staging import to_frames, upload
from .ticks import PerLane, batches, plan_tick
from .tracking import picture, shown, shown_share


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

    def _tensor(self, a) -> torch.Tensor:
        """A flow [2,H,W] (numpy, or a pinned tensor from stage()) -> float32 [1,2,H,W] on the device."""
        return torch.as_tensor(a)[None].to(self.dreamer.device, non_blocking=True).float()

    def _faded(self, items: list[FrameIn]) -> torch.Tensor:
        """[B,1,1,1] on the device: the share of the picture each item's frame shows (FrameIn.fade)."""
        return upload(torch.tensor([float(item.fade) for item in items]).view(-1, 1, 1, 1), self.dreamer.device)

    def _bars(self, items: list[FrameIn]) -> torch.Tensor:
        """[B,8] on the device: where the bars of each item's shot are (FrameIn.bars)."""
        return upload(torch.tensor([list(item.bars) for item in items], dtype=torch.float32), self.dreamer.device)

    def step(self, items: list[FrameIn], carries: list[Carry | None]) -> tuple[list[np.ndarray], list[Carry]]:
        """Dream one frame per lane. Returns uint8 [H,W,3] frames (numpy; on CUDA HostFrames, which np.asarray
        turns into numpy once their copy is done) and the new carries."""
        self.keyed = self.repainted = False  # whether any lane got a keyframe, a repaint this tick (benchmarks)
        if self.animator is None and not self.one_by_one:
            return self._step(self.fixed, items, carries)
        frames, new = [None] * len(items), [None] * len(items)
        if self.one_by_one:  # each lane alone, at its own time
            groups = [[i] for i in range(len(items))]
            settings = [self.animator.at(item.index) if self.animator else self.fixed for item in items]
        else:  # animated lanes in batches: those whose settings differ only in per-lane numbers dream together
            settings = [self.animator.at(item.index) for item in items]
            groups = batches(settings)
        for group in groups:
            s = settings[group[0]]
            nums = PerLane.of([settings[i] for i in group], self.dreamer.device) if len(group) > 1 else None
            f, c = self._step(s, [items[i] for i in group], [carries[i] for i in group], nums)
            for i, fi, ci in zip(group, f, c):
                frames[i], new[i] = fi, ci
        return frames, new

    def _step(self, s, items: list[FrameIn], carries: list[Carry | None], nums: "PerLane | None" = None):
        """One tick for lanes sharing settings `s`; `nums`: their own step sizes and blend, when they differ."""
        v = s.video
        moved: list[Carry | None] = []
        for item, carry in zip(items, carries):
            c = None
            if carry is not None and not item.cut and item.backward is not None and v.flow != "none":
                c = along(carry, to_tensor(item.frame, self.dreamer.device), self._tensor(item.backward),
                          None if item.forward is None else self._tensor(item.forward), v)
            elif carry is not None and not item.cut and v.flow == "none":
                c = replace(carry, frame=to_tensor(item.frame, self.dreamer.device))  # carried in place
            moved.append(c)
        checks = {i: check(c, v) for i, c in enumerate(moved) if c is not None}
        tick, redo = self._plan(moved, checks, v)
        out: list = [None] * len(items)
        new: list = [None] * len(items)
        self.keyed |= bool(tick.keys)
        self.repainted |= any(tick.repaint)
        if tick.keys:
            old = [moved[i].shown if i in redo else None for i in tick.keys]  # crossfaded from
            for i, o, c in zip(tick.keys, *self._key(s, [items[i] for i in tick.keys], nums and nums.pick(tick.keys),
                                                     old)):
                out[i], new[i] = o, c
        if tick.light:
            later = self._continue(s, [items[i] for i in tick.light], [moved[i] for i in tick.light],
                                   [checks[i] for i in tick.light], tick.rebase, tick.repaint, tick.drawn,
                                   nums and nums.pick(tick.light))
            for i, o, c in zip(tick.light, *later):
                out[i], new[i] = o, c
        return to_frames(out), new

    @staticmethod
    def _plan(moved: list[Carry | None], checks: dict, v) -> tuple:
        """The tick (ticks.plan_tick) from the lanes' carries moved to this frame (None: a shot starts) and their
        `checks` (lane -> check()), read back from the device in one sync; and the lanes whose keyframe is
        dreamed again."""
        tracked = [i for i in checks if v.flow != "none"]
        asked = [moved[i].trust.mean() for i in tracked] + [checks[i].redo for i in checks] \
            + [(moved[i].trust * (checks[i].stretched <= stretch_limit(v))).mean() for i in tracked]
        got = torch.stack(asked).tolist() if asked else []  # one sync
        n = len(tracked)
        redo = {i for i, r in zip(checks, got[n:n + len(checks)]) if r}
        ages = [c.age if c is not None else None for c in moved]
        painted = [c.painted if c is not None else None for c in moved]
        carried = dict(zip(tracked, got[n + len(checks):]))
        return plan_tick(ages, dict(zip(tracked, got)), v, redo, painted, carried), redo

    def _key(self, s, items: list[FrameIn], nums=None, old: list | None = None) -> tuple[list[torch.Tensor], list[Carry]]:
        """Keyframes: the full octave dream, its new detail softened, shown as far as the picture's light lets
        (tracking.shown, FrameIn.fade) and not on letterbox bars. `old[j]`: the detail [1,3,H,W] lane j showed
        until now, if its dream crossfades into the new one (as a repaint's does) rather than starting a shot.
        Returns outputs [1,3,H,W] and carries."""
        x = torch.cat([to_tensor(item.frame, self.dreamer.device) for item in items])
        seed = self.dreamer.cfg.run.seed
        dream = replace(s.dream, step_size=nums.step_size.view(-1)) if nums else s.dream  # [B]: per sample
        objective = nums.objective if nums else s.objective
        y = self.dreamer.dream(x, [frame_generator(seed, item.index) for item in items], None, dream, objective)
        d = key_detail(y, x, s.video)  # no finer than motion can carry
        share = shown_share(x)
        fade = torch.cat([REPAINT_FADE * (o - d[j:j + 1]) if o is not None else torch.zeros_like(d[j:j + 1])
                          for j, o in enumerate(old or [None] * len(items))])
        shown_here = share * picture(x, self._bars(items)) * self._faded(items)  # tracking.shown, share once
        out = (x + shown_here * (d + fade)).clamp(0, 1)
        return [out[j:j + 1] for j in range(len(items))], \
            [keyframe(d[j:j + 1], x[j:j + 1], share[j:j + 1], fade[j:j + 1]) for j in range(len(items))]

    def _continue(self, s, items: list[FrameIn], cs: list[Carry], checks: list[Check], rebase: list[bool],
                  repaint: list[bool], drawn: list[bool], nums=None):
        """Later frames: the carried detail, then a few steps at the finest octaves where it falls short and, for
        lanes with `repaint[j]`, the full dream where the keyframe's dream was lost or drawn out past video.stretch
        (with `drawn[j]`, a repaint the stretch called: past REPAINT_ALONG of it). `rebase[j]`: lane j's output
        becomes its new keyframe. `checks[j]`: check() of lane j. Returns outputs [1,3,H,W] and carries."""
        v = s.video
        blend = nums.blend if nums else v.blend
        # the lanes' tensors as one batch (a lone lane's as they are: nothing below writes to them)
        cat = lambda name: torch.cat([getattr(c, name) for c in cs]) if len(cs) > 1 else getattr(cs[0], name)  # noqa
        base = cat("frame")
        to_key = cat("to_key")
        key_energy = cat("key_energy")
        key_level, keep = flow.warp(key_energy, to_key), torch.cat([c.keep for c in checks])
        held = (keep > 0.5).float()  # once dropped, a pixel's key detail never returns on top of what replaced it
        along = upload(torch.tensor([REPAINT_ALONG if d else 1.0 for d in drawn]).view(-1, 1, 1, 1), held.device)
        stretched = torch.cat([c.stretched for c in checks])  # a repaint dreams these afresh too
        lost = torch.maximum(1 - held, (stretched > along * stretch_limit(v)).float())
        key = flow.warp(cat("key_detail"), to_key, mode="bicubic") * keep * blend  # bicubic: keeps fine texture
        fade = torch.cat([c.fade for c in cs])  # a copy: repaints write to it
        carried = key + cat("extra") + fade
        # The carried detail, steadied toward the last output's detail along the flow where trusted: for this frame
        # only (kept in `extra`, the difference of two copies of the texture a fraction of a pixel apart piles up
        # frame after frame into the layer's finest stripes).
        step = cat("step")  # how far each pixel's last step along the flow is trusted
        pull = v.temporal * step * (cat("shown") - carried)
        carried = carried + pull
        # The keyframe's energy where it is carried, its average where nothing is: the level to hold.
        level = keep * key_level + (1 - keep) * key_energy.mean((2, 3), keepdim=True)
        margin = fine_margin(max(base.shape[-2:]), v.fine_margin)
        slack = by_size(max(base.shape[-2:]), REFRESH_SLACKS)
        pending = cat("pending")  # what earlier refreshes have still to show (detail.ease)
        carried, gain = hold(carried, level, v.reveal_boost, v.evolve, slack, margin, pending)
        seed = self.dreamer.cfg.run.seed
        regrow = engine.gaussian_blur(1 - held, REPAINT_FEATHER) * coarse_shortfall(carried, level) \
            if regrown_octaves(max(base.shape[-2:]), s, [item.index for item in items]) else None  # only if used
        detail = self._refresh(s, [item.index for item in items], base, carried, gain, regrow, seed, nums)
        change, pending = ease(detail - carried, pending, v.refresh_ease * step)
        detail = carried + change
        rows = [j for j, r in enumerate(repaint) if r]
        if rows:  # on top of the refresh: a repaint leaves the pixels that still carry their keyframe's dream as is
            new = self._repaint(s, [items[j].index for j in rows], base[rows], detail[rows], lost[rows], seed,
                                nums and nums.pick(rows))
            fade[rows] = REPAINT_FADE * (detail[rows] - new)  # no pop: what it replaced fades out over a few frames
            detail[rows] = new + fade[rows]
        y = (base + detail).clamp(0, 1)
        extra = y - base - key - fade - pull
        # faded with the picture's light and through editors' fades, none on bars (the carry keeps all of it)
        out = base + shown(base, self._bars(items)) * self._faded(items) * (y - base)
        carries = []
        for j, c in enumerate(cs):
            one = slice(j, j + 1)
            if rebase[j]:  # pixels a repaint left, or (a re-key) those still held, keep the strain of their dream
                kept = (1 - lost[one]) if repaint[j] else held[one]
                carries.append(rebased(c, y[one] - base[one], base[one], fade[one], kept, level[one], repaint[j],
                                       pending[one]))
            else:
                carries.append(replace(c, extra=extra[one], shown=y[one] - base[one], trust=held[one],
                                       pending=pending[one]))
        return [out[j:j + 1] for j in range(len(cs))], carries

    def _refresh(self, s, indices: list[int], base, carried, gain, regrow, seed, nums=None) -> torch.Tensor:
        """Dream the carried detail [B,3,H,W] on `base` a little more at the finest octaves, each pixel's step
        `gain` [B,2,H,W] (coarser octaves, finest) times the light step; the new detail softened as on keyframes,
        video.refresh_soften times as much. `regrow` [B,1,H,W] in [0,1] (None: no octave is, regrown_octaves):
        where nothing is carried and the dream's coarse part falls short (detail.coarse_shortfall), the octaves
        of dream.octaves coarser than those are dreamed too, at video.reveal_boost times the light step: what
        the flow cannot carry (a dancer's swinging limbs, revealed background) grows eyes and rings as a keyframe
        has, not the finest texture alone.
        With video.refresh_turns each frame dreams one of the finest octaves, in turn by frame number (lanes and
        resumes agree), and those that do not dream the finest one of the coarser ones, in turn, each with as
        many times the step as frames it waits: the same growth per second.
        dream.max_loss does not apply: the frame's score counts the dream carried in, and the hold already sets
        each step. Returns the detail."""
        v = s.video
        k = v.refresh_octaves or refresh_octaves(max(base.shape[-2:]), s.dream)
        wide = max(s.dream.octaves - k, 0) if regrow is not None else 0  # regrown_octaves, as _continue found
        light = nums.step_size * nums.light_step if nums else s.dream.step_size * v.light_step
        step_map = light * gain * (k if v.refresh_turns else 1)
        coarser = [light * v.reveal_boost * regrow * (wide * k if v.refresh_turns else 1)] * wide if wide else []
        maps = coarser + [step_map[:, :1]] * (k - 1) + [step_map[:, 1:]]  # coarse to fine
        # with turns, the coarser octaves on the frames whose finest octave's turn it is not (those take longest)
        rows = turns(coarse_turns(indices, k), wide, v.refresh_turns) + turns(indices, k, v.refresh_turns)
        detail = engine.refine(self.dreamer.net, nums.objective if nums else s.objective, base, carried,
                               replace(s.dream, smooth=v.light_smooth, jitter=v.light_jitter, normalize="local",
                                       max_loss=0.0),
                               [frame_generator(seed, i) for i in indices], v.light_steps, maps, rows)
        return carried + soften_detail(detail - carried, base, v, v.refresh_soften)

    def _repaint(self, s, indices: list[int], base, carried, lost, seed, nums=None) -> torch.Tensor:
        """A partial keyframe: where the carried detail [B,3,H,W] is no longer the keyframe's (lost [B,1,H,W],
        1: lost; feathered by REPAINT_FEATHER px) it is dreamed afresh on `base` as a keyframe is, at every octave
        and as far, in REPAINT_STRIDE times fewer, longer steps (but dream.max_loss, which the dream carried in
        would trip), its new detail softened the same way; elsewhere it stays. Returns the detail [B,3,H,W]."""
        region = engine.gaussian_blur(lost, REPAINT_FEATHER)
        start = carried * (1 - region)
        steps = max(1, round(s.dream.steps / REPAINT_STRIDE)) if s.dream.steps else 0
        scale = s.dream.steps / steps if steps else 0.0  # the keyframe's total step length, in fewer steps
        step_map = (nums.step_size if nums else s.dream.step_size) * region
        detail = engine.refine(self.dreamer.net, nums.objective if nums else s.objective, base, start,
                               replace(s.dream, normalize="local", max_loss=0.0),
                               [frame_generator(seed, i) for i in indices], steps, [step_map * scale] * s.dream.octaves)
        return start + soften_detail(detail - start, base, s.video)


def regrown_octaves(width: int, s, indices: list[int]) -> int:
    """How many of the octaves of dream.octaves, coarser than those refreshed, are regrown where nothing is
    carried on frames numbered `indices` whose longer side is `width`: none with video.reveal_boost 0, and none
    when, with video.refresh_turns, it is none of these frames' turn (_refresh)."""
    k = s.video.refresh_octaves or refresh_octaves(width, s.dream)
    turn = not s.video.refresh_turns or any(t >= 0 for t in coarse_turns(indices, k))
    return max(s.dream.octaves - k, 0) if s.video.reveal_boost and turn else 0


def coarse_turns(indices: list[int], k: int) -> list[int]:
    """With video.refresh_turns over k refreshed octaves: for frames numbered `indices`, the turn number of the
    coarser octaves on the frames that dream them (those whose finest octave's turn it is not: k - 1 mod k),
    -1 on the others (turns)."""
    return [i // k if i % k == k - 1 else -1 for i in indices]


def turns(indices: list[int], n: int, on: bool) -> list[list[int]]:
    """For n octaves (coarse to fine), the rows of a batch of frames numbered `indices` dreamed at each: with turns
    (`on`), octave j on the frames numbered n - 1 - j mod n, the finest on 0 mod n (none on those numbered -1);
    else all of them at each."""
    return [[row for row, i in enumerate(indices) if not on or i >= 0 and i % n == n - 1 - j] for j in range(n)]


REPAINT_FEATHER = 2.0  # px: a repaint blends into the carried dream around it over about this width
REPAINT_ALONG = 0.5  # a repaint the stretch calls also redoes what is drawn out past this share of the limit (log):
# its root. On the smoke clip at 640 wide (look.py, 2026-11-23) scale persistence 0.98 against 0.90 without it;
# on the camera clip, whose repaints lost pixels call, the dream drawn out by the flow's noise is left alone.
REPAINT_STRIDE = 3  # a repaint takes this many times fewer steps than a keyframe, each as much longer (cost). All
# of a keyframe's steps at the coarser octaves (README "Long shots", 2026-11-24) made one frame's repaint look like
# a keyframe, but through the video cost 0.003-0.012 of strength and 1.6-2.9 times a repaint: not kept.
REFRESH_SLACKS = (0.1, 0.2)  # share of its level a dream may fall short before the refresh grows it (detail.hold),
# by the frame's size (detail.by_size). Refreshing what resampling takes from a carried dream makes flicker: at 640
# wide (look.py, 2026-11-23) 0.2 measured camera 2.56 against 2.76 with 0.1 (passer, smoke, sharp 1.88, 3.84, 1.38
# against 1.97, 4.09, 1.45 before it and the repaint's crossfade fix), at 0.001 less strength; at 256 wide it took
# the detail ratio of sharp, grain and fade under 1.3 (1.29, 1.29, 1.27).
REFRESH_WIDTH = 360  # px: with video.refresh_octaves = 0, later frames are refreshed down to an octave this small


def refresh_octaves(width: int, dream) -> int:
    """How many of the finest octaves later frames are dreamed at (video.refresh_octaves = 0), for a frame whose
    longer side is `width`: at least 2, and enough that the coarsest's is at most REFRESH_WIDTH, so that big
    frames keep their coarse dream too; at most the keyframe's octaves. (At 640 wide over 4 s, 2 octaves let
    strength fall to 0.89 of the start, 3 held 0.95.)"""
    k = 2
    while k < dream.octaves and width / dream.octave_scale ** (k - 1) > REFRESH_WIDTH:
        k += 1
    return min(k, dream.octaves)


def prepare_flows(prev: np.ndarray | None, cur: np.ndarray, method: str, width: int = 0,
                  forward: bool = True) -> tuple:
    """Backward flow [2,H,W] between consecutive input frames and, when `forward` (video.consistency), the
    forward one (None for a lane's first frame), estimated at `width` (0: the frames' own) and scaled back."""
    if prev is None or method == "none":
        return None, None
    if not forward:
        return flow.estimate(cur, prev, method, width), None
    ahead = flow.pool().submit(flow.estimate, prev, cur, method, width)  # OpenCV lets go of the GIL: both at once
    return flow.estimate(cur, prev, method, width), ahead.result()
