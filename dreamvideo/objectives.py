"""Composable objectives: activations -> a score per sample [B], which the engine maximizes.

Spec language (text): terms joined by + or -, each an optional `weight*` and one of
  layer          mean squared activation of a layer       e.g. `mixed4`, `blocks.10`
  layer:N        mean activation of channel N             e.g. `inception4c:97`
  mean(layer)    mean activation (not squared)
  continuity     total-variation penalty of the image (subtract it: `- 0.1*continuity`)
  dream_l2       L2 penalty of the image, in 0-255 pixel units as in the 2016 Keras script
Example: "0.5*mixed4 + 1.5*mixed5 - 0.1*continuity".
"""
from __future__ import annotations

import re

import torch

from .errors import UserError
from .staging import upload


class Objective:
    """Base: `layers` names the activations needed; calling gives a score per sample [B]."""

    layers: tuple[str, ...] = ()

    def __call__(self, acts: dict[str, torch.Tensor], img: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def __add__(self, other: "Objective") -> "Objective":
        return Sum([(1.0, self), (1.0, other)])

    def __sub__(self, other: "Objective") -> "Objective":
        return Sum([(1.0, self), (-1.0, other)])

    def __rmul__(self, w: float) -> "Objective":
        return Sum([(float(w), self)])

    def for_rows(self, rows) -> "Objective":
        """The objective for some rows (an index) of the batch it was made for: itself, unless it differs by
        sample (PerSample)."""
        return self


def _crop(a: torch.Tensor, border: int) -> torch.Tensor:
    if border and a.shape[-1] > 2 * border and a.shape[-2] > 2 * border:
        return a[..., border:-border, border:-border]
    return a


class LayerL2(Objective):
    """Mean squared activation of a layer, optionally ignoring `border` cells (Keras example)."""

    def __init__(self, layer: str, border: int = 0):
        self.layer, self.border, self.layers = layer, border, (layer,)

    def __call__(self, acts, img):
        return _crop(acts[self.layer], self.border).float().pow(2).flatten(1).mean(1)


class LayerMean(LayerL2):
    """Mean activation of a layer."""

    def __call__(self, acts, img):
        return _crop(acts[self.layer], self.border).float().flatten(1).mean(1)


class Channel(Objective):
    """Mean activation of one channel of a layer."""

    def __init__(self, layer: str, channel: int, border: int = 0):
        self.layer, self.channel, self.border, self.layers = layer, channel, border, (layer,)

    def __call__(self, acts, img):
        a = acts[self.layer]
        if self.channel >= a.shape[1]:
            raise UserError(f"channel {self.channel} out of range: layer '{self.layer}' has {a.shape[1]} channels")
        return _crop(a[:, self.channel], self.border).float().flatten(1).mean(1)


class Guide(Objective):
    """Match a guide image's features (original notebook): every position follows its best-matching guide feature.

    `guide` is the guide's activation at `layer`, [C, h, w] (or [1, C, h, w]).
    """

    def __init__(self, layer: str, guide: torch.Tensor):
        self.layer, self.layers = layer, (layer,)
        self.guide = guide.reshape(guide.shape[-3], -1).float()  # [C, M]

    def __call__(self, acts, img):
        x = acts[self.layer].float().flatten(2)  # [B, C, N]
        y = self.guide.to(x.device)
        best = torch.einsum("bcn,cm->bnm", x, y).argmax(-1)  # [B, N]
        matched = y.t()[best].transpose(1, 2)  # [B, C, N]
        return (x * matched).mean(dim=(1, 2))


class Continuity(Objective):
    """Total variation of the image (Keras 2016 VGG16 script), in 0-255 pixel units: subtract it."""

    def __call__(self, acts, img):
        x = img * 255
        a = (x[:, :, :-1, :-1] - x[:, :, 1:, :-1]) ** 2
        b = (x[:, :, :-1, :-1] - x[:, :, :-1, 1:]) ** 2
        return (a + b).pow(1.25).flatten(1).mean(1)


class DreamL2(Objective):
    """Mean squared pixel value (centred, 0-255 units): subtract it to keep the image from blowing out."""

    def __call__(self, acts, img):
        return ((img - 0.5) * 255).pow(2).flatten(1).mean(1)


class Sum(Objective):
    """Weighted sum of objectives. A weight may be animated (any object with `value(*when)`, e.g. a schedule for
    `[0.5 + bass]*mixed4`): then `at(*when)` gives the sum with numbers, which is what the engine calls."""

    def __init__(self, terms: list[tuple[float, Objective]]):
        flat: list[tuple[float, Objective]] = []
        for w, t in terms:
            flat += [(w * w2, t2) for w2, t2 in t.terms] if isinstance(t, Sum) else [(w, t)]
        self.terms = flat
        self.layers = tuple(dict.fromkeys(l for _, t in flat for l in t.layers))
        self.animated = any(isinstance(w, Animated) for w, _ in flat)

    def at(self, *when) -> "Sum":
        """The sum at a moment: each animated weight's value (kept >= 0; its sign applied), others as they are."""
        return Sum([(w.at(*when) if isinstance(w, Animated) else w, t) for w, t in self.terms])

    def __call__(self, acts, img):
        return sum(w * t(acts, img) for w, t in self.terms)


class PerSample(Objective):
    """Lanes with different objectives in one batch (animated weights, keyframed objectives): sample i's score
    is sum over k of weights[i, k] * terms[k]. `terms` is the union of the lanes' sums' terms (the same objects:
    each spec is parsed once), `weights` [B, K] float32 on the device, 0 where a lane's sum lacks a term."""

    def __init__(self, terms: list[Objective], weights: torch.Tensor):
        self.terms, self.weights = terms, weights
        self.layers = tuple(dict.fromkeys(l for t in terms for l in t.layers))

    @staticmethod
    def of(sums: list[Sum], device) -> "PerSample":
        """From one Sum per lane, its weights numbers (Sum.at), not animated."""
        terms = list({id(t): t for s in sums for _, t in s.terms}.values())
        column = {id(t): k for k, t in enumerate(terms)}
        w = torch.zeros(len(sums), len(terms))
        for i, s in enumerate(sums):
            for weight, t in s.terms:
                w[i, column[id(t)]] += weight
        return PerSample(terms, upload(w, device))

    def for_rows(self, rows) -> "PerSample":
        """`rows`: a slice, or indices (a CPU tensor or a list; copied to the device without waiting)."""
        if not isinstance(rows, slice):
            rows = torch.as_tensor(rows).to(self.weights.device, non_blocking=True)
        return PerSample(self.terms, self.weights[rows])

    def __call__(self, acts, img):
        return (self.weights * torch.stack([t(acts, img) for t in self.terms], 1)).sum(1)


class Animated:
    """An animated term weight: `sign` times a value that changes over time, never below 0."""

    def __init__(self, value, sign: float = 1.0):
        self.value, self.sign = value, sign  # value: an object with .value(*when), e.g. a schedule

    def __mul__(self, k: float) -> "Animated":
        return Animated(self.value, self.sign * k)

    __rmul__ = __mul__

    def at(self, *when) -> float:
        return self.sign * max(float(self.value.value(*when)), 0.0)


_TERM = re.compile(r"\s*([+-])?\s*(?:(\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+|\[[^\[\]]*\])\s*\*\s*)?"
                   r"(mean\(\s*([\w.]+)\s*\)|[\w.]+(?::\d+)?)\s*")


def parse(spec: str, resolve=lambda name: name, border: int = 0, guide=None, animated=None) -> Objective:
    """Parse a spec string. `resolve` maps layer names/aliases to canonical names (raising UserError);
    `guide(layer) -> [C,h,w]`, when given, turns plain layer terms into guide-matching terms; `animated(text)`,
    when given, parses a bracketed weight `[text]*layer` into an object with `value(*when)` (schedule.parse)."""
    pos, terms = 0, []
    spec = spec.strip()
    if not spec:
        raise UserError("empty objective: give a layer such as 'blocks.10' or a sum like '0.5*mixed4 + 1.5*mixed5'")
    while pos < len(spec):
        m = _TERM.match(spec, pos)
        if not m or m.end() == pos or (terms and not m.group(1)):
            raise UserError(f"cannot parse objective '{spec}' at position {pos}: expected [+|-] [weight*] layer")
        sign = -1.0 if m.group(1) == "-" else 1.0
        w = m.group(2) or "1"
        if w.startswith("[") and animated is None:
            raise UserError(f"cannot parse objective '{spec}' at position {pos}: expected [+|-] [weight*] layer")
        weight = Animated(animated(w[1:-1]), sign) if w.startswith("[") else sign * float(w)
        terms.append((weight, _term(m.group(3), m.group(4), resolve, border, guide)))
        pos = m.end()
    return Sum(terms)


def _term(text: str, mean_of: str | None, resolve, border: int, guide) -> Objective:
    if mean_of:
        return LayerMean(resolve(mean_of), border)
    if text == "continuity":
        return Continuity()
    if text == "dream_l2":
        return DreamL2()
    if ":" in text:
        layer, ch = text.split(":")
        return Channel(resolve(layer), int(ch), border)
    layer = resolve(text)
    return Guide(layer, guide(layer)) if guide is not None else LayerL2(layer, border)
