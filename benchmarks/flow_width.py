"""Optical flow at a working width, at full HD: does the look hold when flow is estimated on smaller frames?

    python benchmarks/flow_width.py [--size 1920x1080] [--frames 30] [--widths 0,1280,960]

A hand-held camera (synth.camera_path: pan, zoom, rotation, shake) over a mosaic of scikit-image photos at
their own resolution, so that a full-HD view holds pixel-level detail instead of an upscaled photo. The same
clip is dreamed with default settings and video.flow_width at each width (0: full size); prints flicker (the
cut-safe luma warping-error ratio, under the input's full-size DIS flow), true flicker (the same ratio under the
camera's true motion, which does not favour a dream carried with the measuring flow), low flicker, persistence
and strength per width, and the change of both flickers against full-size flow. Slow on a CPU (full-HD
dreams): minutes per width.
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))


def mosaic() -> np.ndarray:
    """About 3800x1920 px of photos side by side, each at its own resolution."""
    import skimage.data as d
    from dreamvideo import synth

    photos = [d.astronaut(), d.coffee(), d.rocket(), d.immunohistochemistry(), d.chelsea(), d.hubble_deep_field(),
              d.retina()[::2, ::2], d.cat(), d.coffee()[:, ::-1], d.astronaut()[:, ::-1], d.rocket()[::-1]]
    return synth.mosaic(photos, (3800, 1920), 640)


def render(frames, sets: list[str]) -> list[np.ndarray]:
    from dreamvideo import config
    from dreamvideo.animate import VideoDreamer, prepare_flows
    from dreamvideo.carry import FrameIn
    from dreamvideo.runner import make_dreamer

    cfg = config.load("default", sets=sets)
    vd, carry, out, prev = VideoDreamer(make_dreamer(cfg), cfg.video), None, [], None
    for i, f in enumerate(frames):
        b, fw = prepare_flows(prev, f, cfg.video.flow, cfg.video.flow_width, cfg.video.consistency)
        (y,), (carry,) = vd.step([FrameIn(i, f, b, fw, i == 0)], [carry])
        out.append(y)
        prev = f
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--size", default="1920x1080")
    p.add_argument("--frames", type=int, default=30)
    p.add_argument("--widths", default="0,1280,960")
    a = p.parse_args()
    from dreamvideo import metrics, synth

    size = tuple(int(v) for v in a.size.split("x"))
    photo = mosaic()
    path = synth.camera_path(photo.shape, size, a.frames)
    frames = synth.camera(photo, size, a.frames)
    truth = synth.camera_flows(photo.shape, size, path)
    flows = metrics.input_flows(frames)
    base = metrics.warping_error(frames, flows)
    base_low = metrics.warping_error(frames, flows, sigma=1.0)
    print(f"{a.frames} frames at {size[0]}x{size[1]} over a {photo.shape[1]}x{photo.shape[0]} photo mosaic")
    print("| flow width | flicker | true flicker | low flicker | persistence strength | persistence detail | strength | "
          "flicker vs full size | true flicker vs full size |\n|---|---|---|---|---|---|---|---|---|")
    first = first_true = None
    for w in (int(v) for v in a.widths.split(",")):
        out = render(frames, [f"video.flow_width={w}"])
        flicker = metrics.warping_error(out, flows) / base
        low = metrics.warping_error(out, flows, sigma=1.0) / base_low
        (ps, pd), = metrics.persistence(out, frames, set())
        true = metrics.true_flicker(out, frames, truth)
        first, first_true = first or flicker, first_true or true
        print(f"| {w or 'full'} | {flicker:.2f} | {true:.2f} | {low:.2f} | {ps:.2f} | {pd:.2f} | "
              f"{metrics.strength(out, frames):.4f} | {100 * (flicker / first - 1):+.1f} % | "
              f"{100 * (true / first_true - 1):+.1f} % |", flush=True)


if __name__ == "__main__":
    main()
