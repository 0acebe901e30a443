"""The video look through motion: persistence, flicker, strength, detail, ghosts and cost, on clips that stress
what real footage does.

    python benchmarks/look.py [--width 256] [--set video.KEY=VALUE ...] [--strip docs/look] [--before CHECKOUT]

Clips (25 fps, made from scikit-image photos, see dreamvideo/synth):
  camera   10 s of a hand-held camera over a photo: pan, zoom in and out, rotation, shake
  passer   5 s: an object enters, crosses a panning scene and leaves (its mask is known: ghosts)
  dancer   5 s: a figure taller than the frame dances across a panning scene, its arms and legs swinging about
           their joints, covering and revealing what is behind them (non-rigid motion with occlusion; its mask
           is known: ghosts and its share of the dream)
  smoke    5 s of a texture advected by a turbulent flow field under changing light (non-rigid)
  cut      4 s: camera and object motion, a hard cut at 2.4 s to another photo
  water    5 s, locked off: a photo over its reflection in rippling water, its bottom 45 %, which changes frame to
           frame with no motion that explains it (a dynamic texture: water, fire, leaves)
  cloth    5 s of a printed cloth filling the frame, held at its left edge, with folds travelling across it that
           squeeze, draw out and shade its print over and over (non-rigid change that comes back)
  dollyin, dollyout   5 s of a camera moving straight in (the view's scale growing 2.5 times) and out, over the
           sharp clip's mosaic: the dream magnified, then minified with new content at every edge
  strobe   the camera clip under a strobe (two frames 1.7 times as bright every second) and, from 5 s, light
           dimmed to 0.6; its cuts found as scan_video does (none: a change of light is not a cut)
  grain    the camera clip with sensor noise of 4 grey levels, new on every frame (real footage, low light)
  web      the camera clip through H.264 at CRF 36 (blocking and smeared detail, as in a small web download)
  title    the camera clip's first 5 s under a static white title (a logo, a burned-in caption); its ghost column
           is the title's shimmer (dreamvideo.metrics.shimmer: about 0 when the dream on it holds still)
  camera60 the camera clip's 10 s at 60 frames a second (600 frames; a phone's video): the same motion in
           smaller steps, and more refreshes a second
  fade     5 s of the camera clip faded up from black over its first second and down to black over its last
           (every clip's fades and bars are found as a job's scan finds them: lanes.Scan)
  dissolve 5 s: the camera over one photo dissolving over 1 s into the camera over another (no cut)
  xfade    5 s: a locked-off shot dissolving over 1 s into another, with sensor noise; its ghost column is the
           leftover (dreamvideo.metrics.leftover: about 0 when the second picture's dream is its own)
  whip     5 s: a camera holding on a wide mosaic whips across it in 6 frames with motion blur (found as cuts)
           and holds again
  sharp    5 s of the camera's motion, twice as fast, over a mosaic of six photos never scaled up (repeated on
           big frames), 1.25 mosaic pixels per frame pixel: at every width its frames hold pixel-level detail, as
           real footage does (the other clips scale photos of 512 px and less up to the frame)
  longpan  40 s (only when named with --only): a hand-held pan along a mosaic of seven photos 14 frames wide,
           new content entering at one edge all along, so that after the first seconds all of the dream is what
           the refresh, regrow and repaints made (does it fade or grow finer over a long shot?)
Per clip: persistence (strength and added detail over each shot's last half second over its first half
second, the worst shot of at least 1 s), the cut-safe luma warping-error ratio (flicker added) of the luma and
of the luma blurred by 1 px (low flicker), strength, detail ratio, the ghost index and the object's share of
the dream (strength on the moving object over the rest; passer and dancer), the scene memory (passer and
dancer: on the last frame, the correlation of the dream where the object passed with the first frame's dream
moved there with the scene, metrics.scene_memory: near 1, the scene's own dream came back), the flicker
split between pixels that still carry their keyframe's dream and the others (revealed, changed or lost, whose
dream the refresh grew; with the share of the first), scale persistence (metrics.coarseness, the dream's luma
change between 1 and 4 px over what is finer than 1 px, last half second over first: below 1, its patterns
grew finer), and the mean
milliseconds of a frame that is not a keyframe (repaints included), then of one neither keyframe nor repaint,
the number of repaints and the mean milliseconds of one, the number of keyframes (shots' first frames and
re-keys) and the mean milliseconds of one. The camera, grain, strobe,
smoke, cloth, sharp and dolly clips also get an "ideal carry" row: our keyframe's dream moved with the true motion,
never faded or refreshed.

--before CHECKOUT (e.g. `git worktree add /tmp/old d8c5b72`) renders the same clips with that version too,
each version in its own process, alternating per clip so both see the same machine: the cost ratio comes from
one run; each version renders --repeat times (2), alternating, and its fastest run is its cost, since this
machine's noise only ever slows a run down. Keyframes (frames over four times the median time, for versions
that do not say) are left out of the cost.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from fractions import Fraction

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def clips(width: int, long: bool = False) -> dict:
    """name -> (frames, cuts, object masks or None, ideal carry or None: keyframe detail -> frames, true flows or
    None); with `long`, the longpan clip too."""
    import cv2
    import skimage.data
    from dreamvideo import config, encode, synth, video
    from dreamvideo.lanes import THUMB_WIDTH, is_cut, scan_video, thumb_height

    size = (width, width * 9 // 16)
    passer, masks = synth.passer(skimage.data.coffee(), skimage.data.chelsea(), size, 125, enter=10, leave=80)
    dance, dance_masks = synth.dancer(skimage.data.coffee(), skimage.data.chelsea(), size, 125)
    SCENE["passer"] = SCENE["dancer"] = synth.scene_maps(size, 125)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "cut.mp4")
        synth.photo_clip(path, [skimage.data.astronaut(), skimage.data.coffee()], size, Fraction(25), 100, cut_at=60)
        info = video.count_frames(video.probe(path))
        cut = list(video.read_frames(info, 0, info.frames))
        cuts = scan_video(info, 0, info.frames, config.VideoConfig().cut_threshold).cuts
        photo = skimage.data.astronaut()
        path = synth.camera_path(photo.shape, size, 250)
        camera = synth.camera(photo, size, 250)
        web = os.path.join(tmp, "web.mp4")
        writer = encode.Writer(web, *size, Fraction(25), encode.Encoding("libx264", WEB_CRF))
        for f in camera:
            writer.write(f)
        writer.close()
        web = list(video.read_frames(video.count_frames(video.probe(web)), 0, len(camera)))
    grain = synth.grain(camera)
    lit = synth.strobe(camera)
    thumb = (THUMB_WIDTH, thumb_height(*size))  # as scan_video reads them

    def detected(frames):  # the cuts the reader finds
        thumbs = [cv2.resize(f, thumb, interpolation=cv2.INTER_AREA) for f in frames]
        return {t for t in range(1, len(frames)) if is_cut(thumbs[t - 1], thumbs[t], config.VideoConfig().cut_threshold)}
    smoke = synth.smoke(skimage.data.rocket(), size, 125)
    tiles = synth.mosaic([skimage.data.coffee(), skimage.data.astronaut(), skimage.data.immunohistochemistry(),
                          skimage.data.rocket(), skimage.data.hubble_deep_field(), skimage.data.retina()],
                         (width * 9 // 4, width * 5 // 4), min(512, width * 5 // 8))  # 1440x800 at 640 wide
    sharp_path = synth.camera_path(tiles.shape, size, 125)
    sharp = synth.camera(tiles, size, 125)
    paths = {"dollyin": synth.dolly_path(tiles.shape, 125, 0.8, 2.0),
             "dollyout": synth.dolly_path(tiles.shape, 125, 2.0, 0.8)}
    dolly = {k: synth.along(tiles, size, p) for k, p in paths.items()}
    faded = synth.fade(camera[:125])
    dissolve = synth.dissolve(synth.camera(photo, size, 75), synth.camera(skimage.data.coffee(), size, 75, seed=1))
    wide = synth.mosaic([skimage.data.coffee(), skimage.data.astronaut(), skimage.data.immunohistochemistry(),
                         skimage.data.rocket(), skimage.data.hubble_deep_field(), skimage.data.retina()],
                        (width * 4, width * 5 // 4), min(512, width * 5 // 8))
    whip = synth.blurred_along(wide, size, synth.whip_path(wide.shape, size, 125), 16)
    locked = [cv2.resize(p[(p.shape[0] - p.shape[1] * 9 // 16) // 2:][:p.shape[1] * 9 // 16], size,
                         interpolation=cv2.INTER_AREA) for p in (photo, skimage.data.coffee())]  # middle, 16:9
    xfade = synth.grain(synth.dissolve([locked[0]] * 75, [locked[1]] * 75, 25))  # the first alone up to frame 49
    title, TITLE[width] = synth.titled(camera[:125])
    water = synth.water(skimage.data.coffee(), size, 125)
    if long:
        seven = [skimage.data.coffee(), skimage.data.astronaut(), skimage.data.immunohistochemistry(),
                 skimage.data.rocket(), skimage.data.hubble_deep_field(), skimage.data.retina(), skimage.data.chelsea()]
        long_mosaic = synth.mosaic(seven, (width * 14, width * 5 // 4), min(512, width * 5 // 8))
        longpan = synth.along(long_mosaic, size, synth.pan_path(long_mosaic.shape, size, 1000))
    cloth = synth.cloth(skimage.data.chelsea(), size, 125)
    return {"camera": (camera, set(), None, lambda d: synth.glued(camera, d, photo.shape, path),
                       synth.camera_flows(photo.shape, size, path)),
            "grain": (grain, set(), None, lambda d: synth.glued(grain, d, photo.shape, path),
                      synth.camera_flows(photo.shape, size, path)),
            "strobe": (lit, detected(lit), None, lambda d: synth.glued(lit, d, photo.shape, path),
                       synth.camera_flows(photo.shape, size, path)),
            "passer": (passer, set(), masks, None, None),
            "dancer": (dance, set(), dance_masks, None, None),
            "smoke": (smoke, set(), None, lambda d: synth.smoke_glued(smoke, d), synth.smoke_flows(size, 125)),
            "cut": (cut, set(cuts), None, None, None),
            "water": (water, set(), None, None, None),
            "cloth": (cloth, set(), None, lambda d: synth.cloth_glued(cloth, d), synth.cloth_flows(size, 125)),
            "sharp": (sharp, set(), None, lambda d: synth.glued(sharp, d, tiles.shape, sharp_path),
                      synth.camera_flows(tiles.shape, size, sharp_path)),
            "web": (web, set(), None, None, None),
            "title": (title, set(), None, None, None),
            "camera60": (synth.camera(photo, size, 600), set(), None, None, None),
            "fade": (faded, detected(faded), None, None, None),
            "dissolve": (dissolve, detected(dissolve), None, None, None),
            "whip": (whip, detected(whip), None, None, None),
            "xfade": (xfade, detected(xfade), None, None, None),
            **({"longpan": (longpan, set(), None, None, None)} if long else {}),
            **{k: (dolly[k], set(), None, lambda d, k=k: synth.glued(dolly[k], d, tiles.shape, paths[k]),
                   synth.camera_flows(tiles.shape, size, paths[k])) for k in paths}}


XFADE_BEFORE = 49  # the xfade clip's last frame of its first shot alone
WEB_CRF = 36  # the web clip's H.264 quality: about 24 kbit/s at 256x144, the blocking of a small web download
FPS = {"camera60": 60}  # clips not at 25 frames a second (for the half seconds of persistence)
TITLE: dict = {}  # width -> the title clip's title mask (bool [H,W]; synth.titled)
SCENE: dict = {}  # clip -> where each pixel of its last frame shows the scene in each frame (synth.scene_maps)
COST = ("ms", "ms_plain", "ms_repaint", "ms_key", "repaints", "keys")  # what `render` saves of a render's cost


def render(checkout: str, clip_file: str, name: str, sets: list[str], out_file: str) -> None:
    """Worker: dream one saved clip with the video method of `checkout`; save the output frames and the mean
    milliseconds of a non-key frame."""
    sys.path.insert(0, checkout)
    import torch
    from dreamvideo import config
    from dreamvideo.animate import FrameIn, VideoDreamer, prepare_flows  # FrameIn: there in every version
    from dreamvideo.runner import make_dreamer

    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", os.cpu_count() or 1)))
    saved = np.load(clip_file)
    frames, cuts = list(saved[name]), set(saved[name + "_cuts"].tolist())
    told = scanned(frames, cuts, checkout)
    cfg = config.load("default", sets=sets)
    vd, carry, out, prev, tracked = VideoDreamer(make_dreamer(cfg), cfg.video), None, [], None, []
    times = {"key": [], "repaint": [], "plain": []}
    for i, f in enumerate(frames):
        cut = i == 0 or i in cuts
        width = getattr(cfg.video, "flow_width", 0)  # versions before it estimated flow at full size
        both = {"forward": cfg.video.consistency} if hasattr(cfg.video, "consistency") else {}  # older: always
        b, fw = prepare_flows(None if cut else prev, f, cfg.video.flow, *([width] if width else []), **both)
        t = time.perf_counter()
        (y,), (carry,) = vd.step([FrameIn(i, f, b, fw, cut, **told[i])], [carry])
        kind = "key" if cut or getattr(vd, "keyed", False) else \
            "repaint" if getattr(vd, "repainted", False) else "plain"
        times[kind].append(time.perf_counter() - t)
        out.append(y)
        tracked.append((carry.trust[0, 0] > 0.5).numpy() if hasattr(carry, "trust") else np.ones(f.shape[:2], bool))
        prev = f
    plain = [t for t in times["plain"] if t < 4 * np.median(times["plain"])]  # older versions' re-keys, hiccups
    ms = lambda ts: 1000 * float(np.mean(ts)) if ts else float("nan")  # noqa: E731
    cost = {"ms": ms(plain + times["repaint"]), "ms_plain": ms(plain), "ms_repaint": ms(times["repaint"]),
            "ms_key": ms(times["key"]), "repaints": len(times["repaint"]),
            "keys": len(times["key"])}
    np.savez(out_file, out=np.stack(out), tracked=np.stack(tracked), **cost)


def scanned(frames: list[np.ndarray], cuts: set[int], checkout: str) -> list[dict]:
    """Per frame, what a job's scan tells FrameIn about it (its fade and its shot's bars: lanes.Scan, on
    frames scaled as the scan reads them); what versions before them lack is left out."""
    import cv2
    from dreamvideo import lanes

    if not hasattr(lanes, "fade_shares"):
        return [{} for _ in frames]
    size = (lanes.THUMB_WIDTH, lanes.thumb_height(frames[0].shape[1], frames[0].shape[0]))
    thumbs = [cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames]
    lights = [lanes.light(t) for t in thumbs]
    fades = lanes.fade_shares(lights)
    told = [{"fade": fades[i]} if i in fades else {} for i in range(len(frames))]
    if hasattr(lanes, "shot_bars"):
        bars = lanes.Scan(sorted(cuts - {0}), lights, [lanes.dark_runs(t) for t in thumbs], size).bars()
        for i, t in enumerate(told):
            t["bars"] = lanes.bars_at(bars, i)
    return told


def dreamed(checkout: str, clip_file: str, name: str, sets: list[str]) -> tuple[list[np.ndarray], dict, np.ndarray]:
    """The output of `render` in a fresh process: (frames, its cost: ms per frame of each kind and the number of
    repaints, bool [N,H,W]: where each frame's keyframe dream was still carried)."""
    out_file = clip_file + f".{name}.out.npz"
    subprocess.run([sys.executable, __file__, "--worker", checkout, clip_file, name, out_file, *sets], check=True)
    saved = np.load(out_file)
    return list(saved["out"]), {k: float(saved[k]) for k in COST}, saved["tracked"]


def split_flicker(frames, out, flows, cuts, tracked) -> tuple[float, float, float]:
    """Flicker on the pixels still carrying the keyframe's dream and on the others (revealed, changed, lost),
    and the share of the first kind."""
    import torch
    from dreamvideo import metrics

    rows = []
    for keep in (True, False):
        if not (tracked[1:] == keep).any():  # none of this kind (or a version that does not say): no figure
            rows.append(float("nan"))
            continue
        masks = torch.from_numpy((tracked[1:] == keep).astype(np.float32))[:, None, None]  # [N-1,1,1,H,W]
        part = [(b, valid * m) for (b, valid), m in zip(flows, masks)]
        rows.append(metrics.warping_error(out, part, cuts) / max(metrics.warping_error(frames, part, cuts), 1e-9))
    return rows[0], rows[1], float(np.mean(tracked[1:]))


def measure(name, frames, cuts, masks, truth, out, cost, tracked=None) -> dict:
    from dreamvideo import metrics
    from measure import measure as look_of  # benchmarks/measure.py: the figures a user's own footage gets

    flows = metrics.input_flows(frames)
    row = {"clip": name, **look_of(frames, out, cuts, FPS.get(name.split(",")[0], 25), flows),
           "true_flicker": metrics.true_flicker(out, frames, truth) if truth else float("nan"),
           "ghost": metrics.ghost(out, frames, masks) if masks else
           metrics.leftover(out, frames, XFADE_BEFORE) if name.startswith("xfade") else
           metrics.shimmer(out, frames, TITLE[frames[0].shape[1]]) if name.startswith("title") else float("nan"),
           "object": metrics.object_share(out, frames, masks) if masks else float("nan"),
           "memory": metrics.scene_memory(out, frames, masks, SCENE[clip]) if (clip := name.split(",")[0]) in SCENE
           else float("nan"), **cost}
    row["tracked_flicker"], row["other_flicker"], row["tracked"] = \
        split_flicker(frames, out, flows, cuts, tracked) if tracked is not None else (float("nan"),) * 3
    return row


def strip(path: str, frames: list[np.ndarray], outs: list[list[np.ndarray]]) -> None:
    """First, middle and last frame of a shot: the input above, each version's dream below it."""
    import cv2

    pick = [0, len(frames) // 2, len(frames) - 1]
    grid = np.concatenate([np.concatenate([f[i] for i in pick], 1) for f in [frames, *outs]], 0)
    cv2.imwrite(path, grid[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 88])


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--width", type=int, default=256)
    p.add_argument("--set", action="append", default=[])
    p.add_argument("--only", action="append", default=[], help="clip names to run (default: all)")
    p.add_argument("--strip", default="", help="write first/middle/last strips of each clip as PREFIX-NAME.jpg")
    p.add_argument("--before", default="", help="a checkout of an older version to compare with")
    p.add_argument("--repeat", type=int, default=2, help="renders per version, alternating; the cost is the "
                   "fastest (the figures are the same each time)")
    p.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        checkout, clip_file, name, out_file, *sets = args.worker
        return render(checkout, clip_file, name, sets, out_file)
    sys.path.insert(0, ROOT)
    from dreamvideo import config

    print(f"video settings: {config.load('default', sets=args.set).video}")
    print("| clip | frames | persistence strength | persistence detail | flicker | low flicker | true flicker | strength "
          "| detail | ghost / object / scene memory | flicker tracked / other (tracked share) | scale persistence | ms per non-key frame "
          "(without repaints) | repaints (ms each) | keyframes (ms each) |\n|" + "---|" * 15)
    with tempfile.TemporaryDirectory() as tmp:
        clip_file = os.path.join(tmp, "clips.npz")
        chosen = {k: c for k, c in clips(args.width, long="longpan" in args.only).items()
                  if not args.only or k in args.only}
        np.savez(clip_file, **{k: np.stack(c[0]) for k, c in chosen.items()},
                 **{k + "_cuts": np.array(sorted(c[1]), int) for k, c in chosen.items()})
        nothing = {k: float("nan") for k in COST}
        for name, (frames, cuts, masks, ideal, truth) in chosen.items():
            rows, outs, costs_before, costs = [], [], [], []
            for _ in range(args.repeat):  # the versions alternate; each one's fastest run is its cost
                if args.before:
                    before, cost, tracked_before = dreamed(args.before, clip_file, name, [])
                    costs_before.append(cost)
                out, cost, tracked = dreamed(ROOT, clip_file, name, args.set)
                costs.append(cost)
            fastest = lambda runs: min(runs, key=lambda c: c["ms"])  # noqa: E731
            if args.before:
                rows.append(measure(f"{name}, before", frames, cuts, masks, truth, before, fastest(costs_before),
                                    tracked_before))
                outs.append(before)
            outs.append(out)
            rows.append(measure(name if not args.before else f"{name}, now", frames, cuts, masks, truth, out,
                                fastest(costs), tracked))
            if args.before:
                rows[-1]["clip"] += f" ({rows[-1]['ms'] / rows[0]['ms']:.2f}x the cost)"
            if ideal:  # our keyframe's dream moved with the true motion: the least flicker a dream this strong has
                rows.append(measure(f"{name}, ideal carry", frames, cuts, masks, truth,
                                    ideal((out[0].astype(np.float32) - frames[0]) / 255), nothing))
            for r in rows:
                print(f"| {r['clip']} | {r['frames']} | {r['persist_strength']:.2f} | {r['persist_detail']:.2f} | "
                      f"{r['flicker']:.2f} | {r['flicker_low']:.2f} | {r['true_flicker']:.2f} | {r['strength']:.4f} | "
                      f"{r['detail']:.2f} | {r['ghost']:.2f} / {r['object']:.2f} / {r['memory']:.2f} | "
                      f"{r['tracked_flicker']:.2f} / {r['other_flicker']:.2f} ({r['tracked']:.2f}) | {r['persist_scale']:.2f} | {r['ms']:.0f} ({r['ms_plain']:.0f}) | "
                      f"{r['repaints']:.0f} ({r['ms_repaint']:.0f}) | {r['keys']:.0f} ({r['ms_key']:.0f}) |", flush=True)
            if args.strip:
                first = min(cuts) if cuts else len(frames)
                strip(f"{args.strip}-{name}.jpg", frames[:first], [o[:first] for o in outs])


if __name__ == "__main__":
    main()
