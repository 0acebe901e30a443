"""A lane's carried state (Carry): made at a keyframe (keyframe, or rebased from an output), moved to the next frame
along the optical flow (along) and checked there against its keyframe (check). Tensors [1,C,H,W] on the device; no
dreaming here."""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import torch

from . import flow
from .anchor import GAIN as ANCHOR_GAIN, anchored
from .detail import energy, soften_detail
from .lanes import NO_BARS
from .tracking import (affine_jacobian, held_still, holds, identity, likeness, photometric, refind, relit, strained,
                       stretch)

STATE_VERSION = "carry-20"  # in the job identity: a work folder of another version (its carry, its scan) starts afresh


@dataclass
class Carry:
    """A lane's state after a frame; tensors are [1,C,H,W] on the device."""

    key_detail: torch.Tensor  # [1,3,H,W] keyframe dream minus keyframe input
    key_frame: torch.Tensor  # [1,3,H,W] keyframe input: its detail is carried where the content still matches
    key_energy: torch.Tensor  # [1,2,H,W] local energy of the keyframe's dream (overall, fine: see energy())
    to_key: torch.Tensor  # [1,2,H,W] backward flow from the current frame to the keyframe
    trust: torch.Tensor  # [1,1,H,W] in [0,1]: how reliable to_key still is
    extra: torch.Tensor  # [1,3,H,W] detail added after the keyframe, at the current frame's pixels
    frame: torch.Tensor  # [1,3,H,W] the current input frame
    shown: torch.Tensor  # [1,3,H,W] the detail of the output for it (after along(): the last one, warped)
    step: torch.Tensor  # [1,1,H,W] in [0,1]: how far the last step along the flow can be trusted
    fade: torch.Tensor  # [1,3,H,W] what a repaint replaced (old minus new detail), fading out frame by frame
    pending: torch.Tensor  # [1,3,H,W] what the refresh added and has not shown yet (detail.ease)
    key_share: torch.Tensor  # [1,1,1,1] tracking.shown_share of the keyframe (below 1: dreamed in the dark)
    strain: torch.Tensor  # [1,4,H,W] Jacobian of the map from the frame's pixels to where their dream was dreamed
    steady: torch.Tensor  # [1] likeness of the frame to the one before it (tracking.likeness): as alike as its
    # noise lets it be to its keyframe (1 on a keyframe)
    age: int = 0  # frames since the keyframe
    painted: int = 0  # frames since a keyframe or repaint (a rebase alone does not count: ticks.REKEY_GAP)

    def to(self, device, copy: bool = False) -> "Carry":
        """On `device`; `copy`: never sharing memory with this one (for handing to another thread)."""
        return replace(self, **{k: t.to(device, copy=copy) for k, t in self.__dict__.items() if torch.is_tensor(t)})


@dataclass
class FrameIn:
    """One lane's input for one tick: the frame and, unless it starts a shot, its flow to the previous one."""

    index: int  # frame number in the input video (seeds the randomness)
    frame: np.ndarray  # uint8 [H,W,3] (a pinned uint8 tensor after stage())
    backward: np.ndarray | None = None  # float32 [2,H,W] flow to the previous frame (pinned fp16 after stage())
    forward: np.ndarray | None = None  # float32 [2,H,W] flow from the previous frame (idem)
    cut: bool = False  # first frame of a shot
    fade: float = 1.0  # in an editor's fade from or to black or white: the share of the picture shown (lanes.fade_shares)
    bars: tuple = NO_BARS  # where its shot's bars are (lanes.shot_bars)


def frame_generator(seed: int, index: int) -> torch.Generator:
    """Randomness from the frame's number, never from how many frames came before (lanes, resume)."""
    return torch.Generator().manual_seed(seed * 1_000_003 + index)


def key_detail(y: torch.Tensor, x: torch.Tensor, v) -> torch.Tensor:
    """The dream detail [B,3,H,W] a keyframe carries: its full dream y of frame x [B,3,H,W], the new detail softened to
    what motion can carry (detail.soften_detail with video settings v). The video shows it as far as the frame's
    light and its bars let (tracking.shown); so does `dreamvideo VIDEO still.png`."""
    return soften_detail(y - x, x, v)


def keyframe(detail: torch.Tensor, frame: torch.Tensor, share: torch.Tensor,
             fade: torch.Tensor | None = None, strain: torch.Tensor | None = None) -> Carry:
    """A lane's carry right after a keyframe (or a re-key from the current output) [1,3,H,W] whose frame shows
    `share` [1,1,1,1] of its dream (tracking.shown_share). `fade` [1,3,H,W]: what its frame showed on top of the
    keyframe's detail, fading out (a repaint's or a re-dream's crossfade from the dream before); the next frame
    is steadied toward both, as they were shown. `strain` [1,4,H,W]: how the detail was already drawn out since
    it was dreamed (a re-key from an output that carried a dream; none: freshly dreamed; tracking.strained)."""
    one = torch.ones_like(detail[:, :1])
    fade = torch.zeros_like(detail) if fade is None else fade
    strain = identity(one) if strain is None else strain
    return Carry(detail, frame, energy(detail), torch.zeros_like(detail[:, :2]), one, torch.zeros_like(detail), frame,
                 detail + fade, one, fade, torch.zeros_like(detail), share, strain, torch.ones(1, device=detail.device))


def rebased(carry: Carry, detail: torch.Tensor, frame: torch.Tensor, fade: torch.Tensor, kept: torch.Tensor,
            level: torch.Tensor, repainted: bool, pending: torch.Tensor) -> Carry:
    """A lane's carry when its output becomes its keyframe (a rebase, and each repaint): the output's `detail`
    [1,3,H,W] on `frame` less what is still fading out (`fade`), held at the shot's energy `level` [1,2,H,W]
    rather than its own. Where `kept` [1,1,H,W] it still carries the dream it had, drawn out as far (its strain
    stays), and what the refresh has still to show (`pending` [1,3,H,W]); elsewhere it is dreamed afresh. A
    repaint (`repainted`) counts as a new dream for carry.painted."""
    strain = kept * carry.strain + (1 - kept) * identity(carry.strain)
    return replace(keyframe(detail - fade, frame, carry.key_share, fade, strain), key_energy=level,
                   pending=pending * kept, painted=0 if repainted else carry.painted)


def along(carry: Carry, x: torch.Tensor, back: torch.Tensor, forward: torch.Tensor | None, v) -> Carry:
    """Move a lane's carry to its new frame x [1,3,H,W] along the backward flow `back` [1,2,H,W], zero where a
    pixel holds still (tracking.held_still). A step is trusted where it comes from inside the previous frame (a
    pixel held still: from where it is), the new frame matches the previous one warped and, given the forward
    flow (video.consistency; else None), the two flows agree. Video settings v."""
    still = held_still(back, flow.warp(carry.frame, back), carry.frame, x)  # a still logo stays
    valid = flow.consistent(back, forward) if forward is not None else flow.inside(back)
    back = back * (1 - still)
    valid = torch.maximum(valid, still)  # held still: its step comes from where it is
    before, trust, to_key = flow.warp_all([carry.frame, carry.trust, carry.to_key], back)
    step = valid * photometric(x, relit(before, x), v.match_tolerance)  # a change of light is no new content
    if carry.painted < FADED:  # what a keyframe's re-dream or a repaint replaced is still fading out
        extra, pending, fade, shown = flow.warp_all([carry.extra, carry.pending, carry.fade, carry.shown], back,
                                                    mode="bicubic")
        fade = fade * step * REPAINT_FADE
    else:  # faded out: not carried (a bicubic warp of 3 channels in 12 saved)
        extra, pending, shown = flow.warp_all([carry.extra, carry.pending, carry.shown], back, mode="bicubic")
        fade = torch.zeros_like(extra)
    extra, pending = extra * step, pending * step
    trust = (trust > 0.5).float() * (step > 0.5).float()  # tracked or not: no decay
    to_key = back + to_key  # chained: t -> t-1 (back), then t-1 -> key (the old to_key, warped to t)
    strain = strained(carry.strain, back, step) if v.stretch else carry.strain
    if v.refind and carry.age % ANCHOR_EVERY == 1:  # uncovered again: the keyframe's dream comes back in place of
        # what grew meanwhile (on the frames the anchor skips: a pixel found stays tracked, a frame later)
        guess, found = refind(to_key, trust, x, carry.key_frame, v.match_tolerance)
        to_key, trust, extra = to_key + found * (guess - to_key), torch.maximum(trust, found), extra * (1 - found)
        pending = pending * (1 - found)
        strain = strain + found * (affine_jacobian(guess) - strain)
    if v.anchor and carry.age % ANCHOR_EVERY == 0:  # held on the scene: the chain of flows' errors add up
        # less, in proportion, where the scene draws the dream out (smoke, cloth): the keyframe's picture is deformed
        # there, and matching it misleads; not at all past video.stretch
        rigid = trust * (1 - stretch(strain) / stretch_limit(v)).clamp(0, 1) if v.stretch else trust
        to_key, bend = anchored(to_key, rigid, x, carry.key_frame, ANCHOR_EVERY * ANCHOR_GAIN)
        strain = strain + bend
    return replace(carry, to_key=to_key, trust=trust, extra=extra, pending=pending, fade=fade, frame=x, strain=strain,
                   shown=shown, step=step, steady=likeness(x, before, trust), age=carry.age + 1,
                   painted=carry.painted + 1)


@dataclass
class Check:
    """What of a lane's keyframe holds on its new frame (check())."""

    keep: torch.Tensor  # [1,1,H,W] where its detail may be carried (tracking.holds)
    redo: torch.Tensor  # [] bool: its keyframe is to be dreamed again (tracking.holds)
    stretched: torch.Tensor  # [1,1,H,W] how drawn out its carried dream is (tracking.stretch; 0 where not carried)


def check(c: Carry, v) -> Check:
    """tracking.holds for a lane's carry moved to its new frame (whether its keyframe is dreamed again: for blur
    or a new picture only REDREAM_GAP frames or more after the last keyframe or rebase, so that flow that goes
    wrong frame after frame does not re-key every frame), and how stretched its carried dream is."""
    keep, brighter, changed = holds(c.frame, flow.warp(c.key_frame, c.to_key), c.trust, c.key_share,
                                    v.structure_tolerance, c.steady)
    redo = (brighter | changed) if c.age >= REDREAM_GAP else brighter
    return Check(keep, redo, (keep > 0.5).float() * stretch(c.strain) if v.stretch else torch.zeros_like(keep))


def stretch_limit(v) -> float:
    """How drawn out (tracking.stretch) a carried dream may get before a repaint is due there (video.stretch)."""
    return math.log(v.stretch) if v.stretch else math.inf


ANCHOR_EVERY = 2  # a carry is anchored on every other frame, twice as far: at 256 wide the same look as on every
# frame (look.py, 2026-11-24: flicker within 0.01 but smoke 4.84 against 4.79, scene memory the same) at half the cost
FADED = 24  # frames after a keyframe or repaint from which what it replaced is no longer carried: REPAINT_FADE ** 24,
# 2e-4 of it, is left
REDREAM_GAP = 4  # frames at least from a keyframe or rebase to re-dreaming it for blur or a new picture
REPAINT_FADE = 0.7  # share of what a repaint replaced still shown on its frame, then on each next one of it
