"""Seamless-loop measure for zoom animations: seam = mean |Z(last) - first| against the median of
mean |Z(f_i) - f_{i+1}| (Z: one frame's zoom step), with and without --loop. Target: seam <= 1.5 x median.

    python benchmarks/zoom_seam.py [--size 256x256] [--seconds 4] [--fps 24]
"""
from __future__ import annotations

import argparse
import os
import tempfile

import numpy as np
import skimage.data

from dreamvideo import config, metrics, video
from dreamvideo.zoomloop import zoom_step_flow
from dreamvideo.cli import main as cli
from dreamvideo.images import write_image


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--size", default="256x256")
    p.add_argument("--seconds", default="4")
    p.add_argument("--fps", default="24")
    p.add_argument("--strip", default="", help="also save four frames of the looping animation (e.g. docs/zoom.jpg)")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        start = os.path.join(tmp, "start.png")
        write_image(start, skimage.data.chelsea())
        common = [start, "--size", args.size, "--seconds", args.seconds, "--fps", args.fps, "--codec", "ffv1"]
        print(f"| zoom {args.size}, {args.seconds} s at {args.fps} fps, defaults | seam | median step | ratio |")
        print("|---|---|---|---|")
        for loop in (False, True):
            out = os.path.join(tmp, f"z{int(loop)}.mkv")
            cli(["zoom", *common[:1], out, *common[1:], *(["--loop"] if loop else []), "--overwrite"])
            info = video.count_frames(video.probe(out))
            frames = list(video.read_frames(info, 0, info.frames))
            zcfg = config.load("default").zoom
            seam, typical = metrics.loop_seam(frames, zoom_step_flow(info.height, info.width, zcfg, info.fps))
            print(f"| {'--loop' if loop else 'no --loop'} | {seam:.4f} | {typical:.4f} | {seam / typical:.2f} |")
            if loop and args.strip:
                picks = [frames[i] for i in (0, len(frames) // 3, 2 * len(frames) // 3, len(frames) - 1)]
                write_image(args.strip, np.concatenate(picks, 1))

if __name__ == "__main__":
    main()
