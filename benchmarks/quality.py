"""Temporal quality of video dreaming: warping-error ratio, dream strength and detail, for
(a) every frame dreamed independently, (b) linear blending without flow, (c) our default,
on a clip made from real photos (camera motion, a moving object, a hard cut) and a synthetic one.

    python benchmarks/quality.py [--frames 50] [--width 256]
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from fractions import Fraction

import torch

from dreamvideo import config, metrics, synth, video
from dreamvideo.animate import VideoDreamer, prepare_flows
from dreamvideo.carry import FrameIn, frame_generator
from dreamvideo.images import to_tensor, to_uint8
from dreamvideo.lanes import scan_video
from dreamvideo.runner import make_dreamer


def independent(dreamer, frames, cuts, seed):
    return [to_uint8(dreamer.dream(to_tensor(f), frame_generator(seed, i)))[0] for i, f in enumerate(frames)]


def blended(dreamer, frames, cuts, seed, weight=0.5):
    """The classic loop: the next input is a 50/50 mix of the previous dream and the new frame."""
    out, prev = [], None
    for i, f in enumerate(frames):
        x = to_tensor(f)
        if prev is not None and i not in cuts:
            x = weight * prev + (1 - weight) * x
        prev = dreamer.dream(x, frame_generator(seed, i))
        out.append(to_uint8(prev)[0])
    return out


def ours(dreamer, frames, cuts, seed, cfg):
    vd, carry, out, prev = VideoDreamer(dreamer, cfg.video), None, [], None
    for i, f in enumerate(frames):
        cut = i == 0 or i in cuts
        b, fw = prepare_flows(None if cut else prev, f, cfg.video.flow, cfg.video.flow_width, cfg.video.consistency)
        (y,), (carry,) = vd.step([FrameIn(i, f, b, fw, cut)], [carry])
        out.append(y)
        prev = f
    return out


def evaluate(name, frames, cuts, cfg, only_ours=False):
    dreamer = make_dreamer(cfg)
    flows = metrics.input_flows(frames)
    base = metrics.warping_error(frames, flows, cuts)
    d_in = metrics.detail(frames)
    rows = []
    methods = (("(a) independent", independent), ("(b) blend 50/50, no flow", blended),
               ("(c) ours (default)", lambda d, f, c, s: ours(d, f, c, s, cfg)))
    for label, fn in methods[2:] if only_ours else methods:
        t = time.perf_counter()
        out = fn(dreamer, frames, cuts, cfg.run.seed)
        secs = time.perf_counter() - t
        rows.append((label, metrics.warping_error(out, flows, cuts) / base, metrics.strength(out, frames),
                     metrics.detail(out) / d_in, len(frames) / secs))
    print(f"\n{name}: {len(frames)} frames {frames[0].shape[1]}x{frames[0].shape[0]}, cuts at {sorted(cuts)}, "
          f"E_warp(input) = {base:.4f}")
    print("| method | E_warp ratio (luma) | strength | detail ratio | frames/s |\n|---|---|---|---|---|")
    for label, ratio, s, det, fps in rows:
        print(f"| {label} | {ratio:.2f} | {s:.3f} | {det:.2f} | {fps:.2f} |")
    return rows


def load(path, width):
    info = video.count_frames(video.probe(path))
    h = round(info.height * width / info.width)
    frames = list(video.read_frames(info, 0, info.frames, (width, h)))
    cuts = scan_video(info, 0, info.frames, config.VideoConfig().cut_threshold).cuts
    return frames, set(cuts)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--frames", type=int, default=50)
    p.add_argument("--width", type=int, default=256)
    p.add_argument("--set", action="append", default=[])
    p.add_argument("--only-ours", action="store_true", help="skip the slow baselines (a) and (b)")
    args = p.parse_args()
    import skimage.data

    torch.set_num_threads(os.cpu_count() or 1)
    cfg = config.load("default", sets=["run.device=auto", *args.set])
    print(f"settings: dream {cfg.dream}\nvideo {cfg.video}")
    with tempfile.TemporaryDirectory() as tmp:
        real, synthetic = os.path.join(tmp, "photo.mp4"), os.path.join(tmp, "synthetic.mp4")
        n = args.frames
        synth.photo_clip(real, [skimage.data.astronaut(), skimage.data.coffee()], (args.width, args.width * 9 // 16),
                         Fraction(25), n, cut_at=n * 3 // 5)
        synth.lavfi_clip(synthetic, (args.width, args.width * 9 // 16), "25", n / 25, audio=None, cut_at=n * 3 / 5 / 25)
        evaluate("photo clip (real photos, synthetic camera and object motion)", *load(real, args.width), cfg,
                 args.only_ours)
        evaluate("synthetic clip (testsrc2, hard cut to mandelbrot)", *load(synthetic, args.width), cfg, args.only_ours)


if __name__ == "__main__":
    main()
