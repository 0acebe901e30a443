"""Planning a tick of the lanes: which get a keyframe, which continue their carry, rebase or repaint
(plan_tick), and which dream together as one batch, their per-lane numbers and objectives stacked (batches,
PerLane). Pure decisions on ages, tracked fractions and settings: no dreaming in them."""
from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from . import objectives
from .staging import upload

REPAINT_GAP = 12  # frames at least from a keyframe or a rebase to a repaint: changing content repaints that seldom
REKEY_GAP = 4  # ... but a re-key (too little tracked) repaints from this many frames on, rather than only rebase


@dataclass(frozen=True)
class Tick:
    """What one tick does: lanes `keys` get the full dream, lanes `light` continue their carry; for light lane
    j, `rebase[j]` says whether its output becomes its new keyframe and `repaint[j]` whether the pixels that
    lost their keyframe's dream are dreamed afresh at every octave first (then it rebases too); `drawn[j]`,
    whether that repaint is due to its dream drawn out by the scene (tracking.stretch)."""

    keys: list[int]
    light: list[int]
    rebase: list[bool]
    repaint: list[bool]
    drawn: list[bool]


def plan_tick(ages: list[int | None], tracked: dict[int, float], v, lit: set[int] = frozenset(),
              painted: list[int | None] | None = None, carried: dict[int, float] | None = None) -> Tick:
    """Decide a tick from each lane's carry age (None: no carry, a shot's first frame) and, for lanes carried
    along a flow, the fraction of pixels still tracked. Lanes in `lit` (their keyframe is dreamed again, see
    tracking.holds) get a fresh keyframe. More than video.repaint lost (with video.repaint_lost) repaints them and
    rebases; too little tracked (below video.rekey) or too old (video.rekey_every) re-keys: by rebasing on the
    output, or by a fresh dream (rekey_mode = dream); with video.repaint set, a rebase for too little tracked repaints
    first once REKEY_GAP frames have passed since the lane's keyframe or last repaint (`painted`, default the
    ages: a fast pan rebases every frame, and what the refresh grew on the blur would become the keyframe,
    with nothing to repaint it once the camera stops). `carried`: the fraction of pixels still carrying their
    keyframe's dream not drawn out past video.stretch (default: the tracked ones): when more than video.repaint
    of the frame is drawn out, it repaints too."""
    painted = ages if painted is None else painted
    carried = tracked if carried is None else carried
    fresh = [age is None or i in lit for i, age in enumerate(ages)]
    rebase, repaint, drawn = [False] * len(ages), [False] * len(ages), [False] * len(ages)
    for i, fraction in tracked.items():
        if fresh[i]:
            continue
        lost = 1 - fraction if v.repaint_lost else 0.0
        if v.repaint and max(lost, fraction - carried[i]) > v.repaint and ages[i] >= REPAINT_GAP:
            rebase[i] = repaint[i] = True
            drawn[i] = fraction - carried[i] > v.repaint
        elif v.repaint and fraction < v.rekey and painted[i] >= REKEY_GAP and v.rekey_mode == "rebase":
            rebase[i] = repaint[i] = True
        elif fraction < v.rekey or (v.rekey_every and ages[i] >= v.rekey_every):
            rebase[i], fresh[i] = v.rekey_mode == "rebase", v.rekey_mode != "rebase"
    light = [i for i, f in enumerate(fresh) if not f]
    return Tick([i for i, f in enumerate(fresh) if f], light, *([x[i] for i in light] for x in (rebase, repaint, drawn)))


@dataclass(frozen=True)
class PerLane:
    """What animated settings may give each lane of a batch differently: numbers as [B,1,1,1] tensors, and the
    objective (animated weights, keyframed objectives) as one objectives.PerSample."""

    step_size: torch.Tensor
    light_step: torch.Tensor
    blend: torch.Tensor
    objective: objectives.Objective

    @staticmethod
    def of(settings: list, device) -> "PerLane":
        def column(get):
            return upload(torch.tensor([get(s) for s in settings], dtype=torch.float32).view(-1, 1, 1, 1), device)
        same = all(s.objective is settings[0].objective for s in settings)
        objective = settings[0].objective if same else objectives.PerSample.of([s.objective for s in settings], device)
        return PerLane(column(lambda s: s.dream.step_size), column(lambda s: s.video.light_step),
                       column(lambda s: s.video.blend), objective)

    def pick(self, rows: list[int]) -> "PerLane":
        return PerLane(self.step_size[rows], self.light_step[rows], self.blend[rows], self.objective.for_rows(rows))


def batches(settings: list) -> list[list[int]]:
    """Lanes (indices) that can dream as one batch: their frame settings differ at most in the per-lane numbers
    and objectives (weighted sums, which PerLane combines)."""
    groups: dict = {}
    for i, s in enumerate(settings):
        own = None if isinstance(s.objective, objectives.Sum) else id(s.objective)
        key = (replace(s.dream, step_size=0.0), replace(s.video, light_step=0.0, blend=0.0), own)
        groups.setdefault(key, []).append(i)
    return list(groups.values())
