"""Ray scaling: frames per second of one video job with 1, 2 and 4 Ray workers, against a local run at equal lanes.

    python benchmarks/ray_scaling.py [--frames 200] [--width 320] [--json]

One local Ray instance with 4 logical CPUs is started once (its start-up time is printed apart); every render is
the same job (a photo clip with camera and object motion, default settings, 1 thread per worker, one lane per
worker, no cut so lanes overlap by the warm-up frames), timed from the call to the finished output, in this
process. A local run dreams its lanes one after another in one process (on CPU it does not batch them), so the
local rows show what the lanes alone cost and the Ray rows what running them side by side gains. On a 2-core
machine 4 workers share 2 cores: beyond 2 workers nothing can be gained here.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from fractions import Fraction

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))


def render(src: str, out: str, lanes: int, cluster) -> float:
    from dreamvideo import config
    from dreamvideo.job import dream_video

    cfg = config.load("default", sets=[f"video.lanes={lanes}"])
    t = time.perf_counter()
    dream_video(src, out, cfg, None, cluster)
    seconds = time.perf_counter() - t
    os.remove(out)
    return seconds


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--frames", type=int, default=200)
    p.add_argument("--width", type=int, default=320)
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    import ray
    import skimage.data

    from dreamvideo.cluster import Cluster
    from dreamvideo.runner import set_threads
    from dreamvideo.synth import photo_clip

    set_threads(1)  # the local runs' network and flow; Ray workers get the same count from the job
    t = time.perf_counter()
    ray.init(num_cpus=4, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    startup = time.perf_counter() - t
    rows = []
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "in.mp4")
        photo_clip(src, [skimage.data.astronaut()], (a.width, a.width * 9 // 16), Fraction(25), a.frames)
        for lanes in (1, 2, 4):  # alternating local and Ray: both see the same machine
            local = render(src, os.path.join(d, "local.mp4"), lanes, None)
            remote = render(src, os.path.join(d, "ray.mp4"), lanes, Cluster())
            rows.append({"workers": lanes, "lanes": lanes, "local_s": local, "ray_s": remote,
                         "ray_fps": a.frames / remote, "local_fps": a.frames / local})
    ray.shutdown()
    if a.json:
        print(json.dumps({"ray_startup_s": startup, "frames": a.frames, "width": a.width, "rows": rows}))
        return
    print(f"{a.frames} frames at {a.width} px wide, {len(os.sched_getaffinity(0))} cores; Ray start-up "
          f"{startup:.1f} s (not in the times below)")
    print("| Ray workers (= lanes) | Ray frames/s | speed-up over 1 worker | local run, same lanes, frames/s "
          "| Ray time / local time |\n|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['workers']} | {r['ray_fps']:.2f} | {r['ray_fps'] / rows[0]['ray_fps']:.2f}x | "
              f"{r['local_fps']:.2f} | {r['ray_s'] / r['local_s']:.2f} |")


if __name__ == "__main__":
    main()
