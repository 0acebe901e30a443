"""The video look through motion: persistence, flicker, strength, detail, ghosts and cost, on clips that stress
what real footage does.

    python benchmarks/look.py [--width 256] [--set video.KEY=VALUE ...] [--strip docs/look.jpg]

Clips (25 fps, made from scikit-image photos, see dreamvideo/synth.py):
  camera   10 s of a hand-held camera over a photo: pan, zoom in and out, rotation, shake
  passer   5 s: an object enters, crosses a panning scene and leaves (its mask is known: ghosts)
  smoke    5 s of a texture advected by a turbulent flow field under changing light (non-rigid)
  cut      4 s: camera and object motion, a hard cut at 2.4 s to another photo
Per clip: persistence (strength and added detail over each shot's last half second over its first half
second, the worst shot of at least 1 s), the cut-safe luma warping-error ratio (flicker added), strength,
detail ratio, the ghost index (passer only) and the average milliseconds of a frame that is not a keyframe.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from fractions import Fraction

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from dreamvideo import config, metrics, synth, video  # noqa: E402
from dreamvideo.animate import FrameIn, VideoDreamer, prepare_flows  # noqa: E402
from dreamvideo.lanes import find_cuts  # noqa: E402
from dreamvideo.runner import make_dreamer  # noqa: E402


def clips(width: int) -> dict:
    """name -> (frames, cuts, object masks or None)."""
    import skimage.data

    size = (width, width * 9 // 16)
    passer, masks = synth.passer(skimage.data.coffee(), skimage.data.chelsea(), size, 125, enter=10, leave=80)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "cut.mp4")
        synth.photo_clip(path, [skimage.data.astronaut(), skimage.data.coffee()], size, Fraction(25), 100, cut_at=60)
        info = video.count_frames(video.probe(path))
        cut = list(video.read_frames(info, 0, info.frames))
        cuts, _ = find_cuts(info, 0, info.frames, config.VideoConfig().cut_threshold)
    return {"camera": (synth.camera(skimage.data.astronaut(), size, 250), set(), None),
            "passer": (passer, set(), masks),
            "smoke": (synth.smoke(skimage.data.rocket(), size, 125), set(), None),
            "cut": (cut, set(cuts), None)}


def render(dreamer, cfg, frames, cuts) -> tuple[list[np.ndarray], float]:
    """Our video method over the frames; returns the output and the mean seconds of a non-key frame."""
    vd, carry, out, prev, light = VideoDreamer(dreamer, cfg.video), None, [], None, []
    for i, f in enumerate(frames):
        cut = i == 0 or i in cuts
        b, fw = prepare_flows(None if cut else prev, f, cfg.video.flow)
        t = time.perf_counter()
        (y,), (carry,) = vd.step([FrameIn(i, f, b, fw, cut)], [carry])
        if not vd.keyed:
            light.append(time.perf_counter() - t)
        out.append(y)
        prev = f
    return out, float(np.mean(light)) if light else float("nan")


def measure(name, frames, cuts, masks, dreamer, cfg) -> tuple[dict, list[np.ndarray]]:
    out, light = render(dreamer, cfg, frames, cuts)
    flows = metrics.input_flows(frames)
    shots = metrics.persistence(out, frames, cuts)
    row = {"clip": name, "frames": len(frames),
           "persist_strength": min(s for s, _ in shots), "persist_detail": min(d for _, d in shots),
           "flicker": metrics.warping_error(out, flows, cuts) / metrics.warping_error(frames, flows, cuts),
           "strength": metrics.strength(out, frames), "detail": metrics.detail(out) / metrics.detail(frames),
           "ghost": metrics.ghost(out, frames, masks) if masks else float("nan"), "ms_light": 1000 * light}
    return row, out


def strip(path: str, frames: list[np.ndarray], out: list[np.ndarray]) -> None:
    """First, middle and last frame of a shot: input above, dream below."""
    import cv2

    pick = [0, len(frames) // 2, len(frames) - 1]
    grid = np.concatenate([np.concatenate([frames[i] for i in pick], 1), np.concatenate([out[i] for i in pick], 1)], 0)
    cv2.imwrite(path, grid[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 88])


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--width", type=int, default=256)
    p.add_argument("--set", action="append", default=[])
    p.add_argument("--only", action="append", default=[], help="clip names to run (default: all)")
    p.add_argument("--strip", default="", help="write first/middle/last strips of each clip as PREFIX-NAME.jpg")
    args = p.parse_args()
    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", os.cpu_count() or 1)))
    cfg = config.load("default", sets=args.set)
    dreamer = make_dreamer(cfg)
    print(f"video settings: {cfg.video}")
    print("| clip | frames | persistence strength | persistence detail | flicker | strength | detail | ghost "
          "| ms per non-key frame |\n|---|---|---|---|---|---|---|---|---|")
    for name, (frames, cuts, masks) in clips(args.width).items():
        if args.only and name not in args.only:
            continue
        r, out = measure(name, frames, cuts, masks, dreamer, cfg)
        print(f"| {name} | {r['frames']} | {r['persist_strength']:.2f} | {r['persist_detail']:.2f} | "
              f"{r['flicker']:.2f} | {r['strength']:.3f} | {r['detail']:.2f} | {r['ghost']:.2f} | "
              f"{r['ms_light']:.0f} |", flush=True)
        if args.strip:
            first = min(cuts) if cuts else len(frames)
            strip(f"{args.strip}-{name}.jpg", frames[:first], out[:first])


if __name__ == "__main__":
    main()
