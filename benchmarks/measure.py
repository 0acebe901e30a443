"""The video look measured on your own footage: a video and its dream, frame for frame.

    python benchmarks/measure.py IN.mp4 OUT.mp4 [--start SECONDS] [--frames 250]

OUT is what `dreamvideo IN OUT` wrote; `--start` is the --start it was given (OUT's first frame is IN's frame
there). The first --frames frames of OUT are compared with IN's frames at the same times, read at OUT's size.
IN's cuts are found as a job finds them. One row is printed, as benchmarks/look.py measures its clips:
persistence (strength and added detail over each shot's last half second over its first, the worst shot of at
least 1 s), flicker (the cut-safe warping-error ratio under IN's DIS flow), low flicker (the same on luma
blurred by 1 px), strength (mean |OUT - IN|), detail ratio (mean |Laplacian| of OUT's luma over IN's) and
scale persistence (metrics.coarseness, last half second over first; below 1: the dream's patterns got finer
over the shot). The frames are held in memory: about 3 MB each at 1280x720.
"""
from __future__ import annotations

import argparse
import sys

import numpy as np


def frames(info, start: int, count: int, size=None) -> list[np.ndarray]:
    """Up to `count` uint8 [H,W,3] RGB frames of a video (VideoInfo with its frame count) from frame `start`, at
    `size` (w, h)."""
    from dreamvideo import video

    return list(video.read_frames(info, start, max(min(count, info.frames - start), 0), size))


def measure(inp: list[np.ndarray], out: list[np.ndarray], cuts: set[int], fps: float, flows=None) -> dict:
    """The look's figures for a dream `out` of `inp` (uint8 [H,W,3] RGB frames, as many, the same size); `flows`:
    metrics.input_flows(inp), if already made."""
    from dreamvideo import metrics

    flows = flows or metrics.input_flows(inp)
    shots = metrics.persistence(out, inp, cuts, fps)
    scale = metrics.scale_persistence(out, inp, cuts, fps)
    ratio = lambda sigma: metrics.warping_error(out, flows, cuts, sigma) / max(  # noqa: E731
        metrics.warping_error(inp, flows, cuts, sigma), 1e-9)
    least = lambda xs: min((x for x in xs if x == x), default=float("nan"))  # noqa: E731 shots without NaN
    return {"frames": len(inp), "cuts": len(cuts),
            "persist_strength": least(s for s, _ in shots), "persist_detail": least(d for _, d in shots),
            "flicker": ratio(0.0), "flicker_low": ratio(1.0), "strength": metrics.strength(out, inp),
            "detail": metrics.detail(out) / max(metrics.detail(inp), 1e-9),
            "persist_scale": least(scale)}


def main(argv: list[str] | None = None) -> int:
    from dreamvideo import config, video
    from dreamvideo.errors import UserError
    from dreamvideo.lanes import scan_video

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("input")
    ap.add_argument("output", help="its dream, as dreamvideo wrote it")
    ap.add_argument("--start", type=float, default=0.0, help="the --start (seconds) the dream was made with")
    ap.add_argument("--frames", type=int, default=250, help="frames to compare, from the dream's first")
    args = ap.parse_args(argv)
    try:
        if args.frames < 2 or args.start < 0:
            raise UserError("--frames must be 2 or more and --start 0 or more")
        in_info, out_info = (video.count_frames(video.probe(p)) for p in (args.input, args.output))
        if in_info.fps != out_info.fps:
            raise UserError(f"{args.output} runs at {out_info.fps} fps, {args.input} at {in_info.fps}: give the "
                            "input the dream was made from")
        out = frames(out_info, 0, args.frames)
        start = round(args.start * in_info.fps)
        inp = frames(in_info, start, len(out), (out_info.width, out_info.height))
        if len(out) < 2 or len(inp) < len(out):
            raise UserError(f"{args.input} has {len(inp)} frames from {args.start}s, {args.output} {len(out)}: "
                            "give the input and --start the dream was made from, and a dream of 2 frames or more")
        cuts = scan_video(in_info, start, len(out), config.VideoConfig().cut_threshold).cuts
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    row = measure(inp, out, set(cuts), float(in_info.fps))
    print(" | ".join(row))
    print(" | ".join(f"{v:.4f}" if k == "strength" else f"{v:.2f}" if isinstance(v, float) else str(v)
                     for k, v in row.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
