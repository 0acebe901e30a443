"""Unit tests of small pieces: colour, flow warping, composing and checking, the lane planner, the loop
crossfade, the mux's audio choices, and the settings' import boundary."""
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dreamvideo import animate, color, config, flow, lanes, mux, staging, zoomloop
from dreamvideo.carry import FrameIn
from dreamvideo.video import AudioStream, VideoInfo


# colour
def test_lab_round_trip_and_known_values():
    rgb = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(color.lab_to_rgb(color.rgb_to_lab(rgb)), rgb, atol=1e-4)
    white, black = torch.ones(1, 3, 1, 1), torch.zeros(1, 3, 1, 1)
    assert torch.allclose(color.rgb_to_lab(white).flatten(), torch.tensor([100.0, 0, 0]), atol=0.05)
    assert torch.allclose(color.rgb_to_lab(black).flatten(), torch.zeros(3), atol=0.05)
    red = color.rgb_to_lab(torch.tensor([1.0, 0, 0]).view(1, 3, 1, 1)).flatten()
    assert torch.allclose(red, torch.tensor([53.24, 80.09, 67.20]), atol=0.1)  # sRGB red, D65


def test_colour_match_moves_stats_by_strength():
    gen = torch.Generator().manual_seed(1)
    a = torch.rand(1, 3, 16, 16, generator=gen) * 0.5
    b = torch.rand(1, 3, 16, 16, generator=gen) * 0.5 + 0.4
    target = color.stats(b)
    assert torch.equal(color.match(a, target, 0), a)
    full = color.stats(color.match(a, target, 1))
    assert torch.allclose(full[0], target[0], atol=0.5) and torch.allclose(full[1], target[1], atol=0.5)
    half = color.stats(color.match(a, target, 0.5))[0]
    start = color.stats(a)[0]
    assert torch.allclose(half, (start + target[0]) / 2, atol=1.0)


# flow
def ramp(h=12, w=16):
    y, x = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    return torch.stack([x, y])[None]  # channel 0 is x, channel 1 is y: warping it shows where each pixel sampled


def test_warp_samples_at_p_plus_flow_and_clamps_at_the_border():
    img = ramp()
    f = torch.zeros(1, 2, 12, 16)
    f[:, 0], f[:, 1] = 2.5, -1.0
    out = flow.warp(img, f)
    assert torch.allclose(out[0, 0, 3:, :10], img[0, 0, 3:, :10] + 2.5)
    assert torch.allclose(out[0, 1, 3:, :10], img[0, 1, 3:, :10] - 1.0)
    assert torch.allclose(out[0, 0, :, -1], torch.full((12,), 15.0))  # past the right edge: the edge
    assert torch.equal(flow.inside(f)[0, 0, :, -2:], torch.zeros(12, 2))
    assert torch.equal(flow.inside(f)[0, 0, 1:, :13], torch.ones(11, 13))


def test_warp_all_equals_warping_one_by_one():
    g = torch.Generator().manual_seed(3)
    imgs = [torch.rand(2, 3, 12, 16, generator=g), torch.rand(2, 1, 12, 16, generator=g),
            torch.randn(2, 2, 12, 16, generator=g)]
    f = torch.randn(2, 2, 12, 16, generator=g) * 3
    for mode in ("bilinear", "bicubic"):
        together = flow.warp_all(imgs, f, mode)
        assert [t.shape for t in together] == [t.shape for t in imgs]
        assert all(torch.equal(a, flow.warp(b, f, mode)) for a, b in zip(together, imgs))


def test_warping_one_image_equals_warping_it_in_a_batch():
    """A single image's channels are sampled as separate samples (threads): the same values as in a batch,
    which keeps torch's own layout."""
    g = torch.Generator().manual_seed(4)
    img, f = torch.rand(2, 9, 12, 16, generator=g), torch.randn(2, 2, 12, 16, generator=g) * 3
    for mode in ("bilinear", "bicubic"):
        batch = flow.warp(img, f, mode)
        assert torch.equal(batch, F.grid_sample(img, flow._grid(f), mode=mode, padding_mode="border",
                                                align_corners=True))
        for j in range(2):
            assert torch.equal(flow.warp(img[j:j + 1], f[j:j + 1], mode), batch[j:j + 1]), (mode, j)
        assert torch.equal(flow.warp(img[:1, :, :, ::2], f[:1, :, :, ::2], mode),  # not contiguous
                           F.grid_sample(img[:1, :, :, ::2], flow._grid(f[:1, :, :, ::2]), mode=mode,
                                         padding_mode="border", align_corners=True))


def test_consistent_passes_inverse_flows_and_fails_contradictions():
    back, fwd = torch.zeros(1, 2, 12, 16), torch.zeros(1, 2, 12, 16)
    back[:, 0], fwd[:, 0] = -2.0, 2.0  # the scene moved two pixels right: the flows are each other's inverse
    mask = flow.consistent(back, fwd)
    assert mask[0, 0, :, 2:].min() == 1 and mask[0, 0, :, :2].max() == 0  # columns 0-1 came from outside
    fwd[:, 0, :, 8:] = -3.0  # the forward flow disagrees on the right
    assert flow.consistent(back, fwd)[0, 0, :, 11:].max() == 0


# lanes
def test_a_change_of_light_is_not_a_cut_and_a_cut_is():
    """A flash, a strobe, a dimmed or coloured light moves the histogram score past the threshold as a cut does;
    only a new picture is a cut. Frames 64 px wide, as scan_video sees them."""
    import cv2
    import skimage.data

    from dreamvideo import synth

    def thumb(f):  # as scan_video sees a 256x144 frame
        return cv2.resize(f, (lanes.THUMB_WIDTH, lanes.thumb_height(256, 144)), interpolation=cv2.INTER_AREA)

    clip = [thumb(f) for f in synth.camera(skimage.data.astronaut(), (256, 144), 250)]  # 10 s
    threshold = config.VideoConfig().cut_threshold
    for gain in (1.6, 2.5, 0.6, 0.3, (1.3, 0.8, 0.8)):
        for i in (0, 100, 200):
            lit = np.clip(clip[i + 2] * np.float32(gain), 0, 255).astype(np.uint8)  # and two frames of motion
            assert lanes.cut_score(clip[i], lit) > threshold  # the histograms alone would cut here
            assert not lanes.is_cut(clip[i], lit, threshold), (gain, i)
    assert not any(lanes.is_cut(a, b, threshold) for a, b in zip(clip, clip[1:]))
    others = [thumb(synth.camera(p, (256, 144), 3)[1]) for p in
              (skimage.data.coffee(), skimage.data.chelsea(), skimage.data.rocket(), skimage.data.hubble_deep_field())]
    assert all(lanes.is_cut(clip[5], o, threshold) and lanes.is_cut(o, clip[5], threshold) for o in others)


# lanes
def test_plan_lanes_splits_at_cuts_near_the_even_split_and_warms_up_elsewhere():
    plan = lanes.plan_lanes(100, [48], 2, 12)
    assert [(l.begin, l.warm, l.end, l.tail) for l in plan] == [(0, 0, 48, 0), (48, 0, 100, 0)]
    plan = lanes.plan_lanes(100, [], 2, 12)
    assert [(l.begin, l.warm, l.end, l.tail) for l in plan] == [(0, 0, 50, 12), (38, 12, 100, 0)]
    assert (plan[0].own, plan[1].own) == ((0, 38), (50, 100))  # frames 38-49 are crossfaded from both
    plan4 = lanes.plan_lanes(1000, [333], 4, 12)
    written = sorted(f for l in plan4 for f in [*range(*l.own), *range(l.begin, l.begin + l.warm)])
    assert written == list(range(1000))  # each frame: one lane's own, or one crossfade
    assert (plan4[1].begin, plan4[1].warm) == (333, 0)  # the cut lies within half a lane of 250: split there
    assert len(lanes.plan_lanes(10, [], 8, 12)) == 1  # too short to split
    kinds = [c.kind for c in lanes.chunks(plan[1], 20)]
    assert kinds == ["head", "video", "video", "video"]


# loop
def test_looped_crossfades_the_head_with_what_follows_the_end():
    frames = [torch.full((1, 1, 1, 1), float(i)) for i in range(12)]  # 10 frames, overlap 2: render 12
    seen = []
    out = dict(zoomloop.looped(iter(frames), 10, 2, seen.append))
    assert sorted(out) == list(range(10)) and len(seen) == 12
    assert [float(out[k]) for k in range(2, 10)] == [float(k) for k in range(2, 10)]
    assert float(out[0]) == 10.0  # the seam: pure continuation of frame 9
    assert float(out[1]) == pytest.approx(0.5 * 11 + 0.5 * 1)  # halfway back to the original head


# mux audio choices
def info(*streams):
    return VideoInfo(path="x", width=16, height=16, fps=Fraction(1), duration=1.0, frames=1,
                     audio=tuple(AudioStream(c, layout) for c, layout in streams))


def test_audio_is_copied_where_the_container_takes_it_else_reencoded():
    aac = info(("aac", "stereo"))
    assert mux.audio_args(".mp4", aac) == ["-map", "1:a", "-c:a:0", "copy"]
    assert mux.audio_args(".mp4", aac, cut=True)[3:5] == ["aac", "-b:a:0"]  # a mid-file start: sample-exact
    webm = mux.audio_args(".webm", aac)
    assert webm[2:4] == ["-c:a:0", "libopus"] and webm[5] == "192k"
    surround = mux.audio_args(".webm", info(("aac", "5.1(side)")))
    assert surround[-2:] == ["-mapping_family", "1"] and surround[5] == "510k"  # opus's ceiling
    assert mux.audio_args(".gif", aac) == ["-an"] and mux.audio_args(".mp4", info()) == ["-an"]
    assert mux.audio_args(".mp4", None) == ["-an"]
    two = mux.audio_args(".mov", info(("aac", "stereo"), ("pcm_s16le", "mono")))
    assert "-c:a:0" in two and "-c:a:1" in two


def test_mosaic_fills_its_size_with_photos_never_scaled_up():
    from dreamvideo import synth

    small = np.arange(30 * 40 * 3, dtype=np.uint8).reshape(30, 40, 3)
    tall = np.full((90, 50, 3), 200, np.uint8)
    m = synth.mosaic([small, tall], (120, 100), 45)
    assert m.shape == (100, 120, 3)
    assert np.array_equal(m[:30, :40], small)  # shorter than its row: as is, padded below
    assert m[:45, 40:65].min() == 200 and np.array_equal(m[:30, 65:105], small)  # taller: scaled down to the row
    assert np.array_equal(m[45:75, :40], small)  # the next row goes on taking the photos in turn


def test_settings_do_not_import_io():
    code = "import sys, dreamvideo.config; print(sorted(m for m in sys.modules if m.startswith('dreamvideo')))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "dreamvideo.video" not in loaded and "dreamvideo.flow" not in loaded



@pytest.mark.parametrize("method", ["dis", "dis-fine", "farneback"])
def test_flow_at_a_working_width_is_scaled_back_to_the_frame(method):
    """A picture moved 6 px right and 3 px down: every method says so, and the flow estimated at half the width
    says the same, in full-size pixels, at every pixel of the full-size frame."""
    import cv2

    rng = np.random.default_rng(0)
    big = cv2.GaussianBlur(rng.uniform(0, 255, (160, 240, 3)).astype(np.float32), (0, 0), 2.5)
    big = np.clip((big - big.mean()) * 3 + 128, 0, 255).astype(np.uint8)
    prev, cur = big[20:116, 20:180], big[17:113, 14:174]  # cur(p) = prev(p + (-6, -3))
    for width in (0, 80):
        f = flow.estimate(cur, prev, method, width)
        assert f.shape == (2, 96, 160)
        inner = f[:, 16:-16, 16:-16].reshape(2, -1)
        assert np.allclose(np.median(inner, 1), [-6, -3], atol=0.3), (width, np.median(inner, 1))


def test_fit_affine_recovers_a_global_motion_and_ignores_what_has_no_weight():
    h, w = 40, 60
    truth = flow.zoom_flow(h, w, 1.05, angle_deg=3.0, pan=(2.0, -1.0))  # an affine map, as a flow
    noisy = truth.clone()
    noisy[..., 10:20, 10:30] += 15.0  # an object moving on its own
    weight = torch.ones(1, 1, h, w)
    weight[..., 10:20, 10:30] = 0
    assert torch.allclose(flow.fit_affine(noisy, weight), truth, atol=1e-3)
    assert not torch.allclose(flow.fit_affine(noisy, torch.ones(1, 1, h, w)), truth, atol=0.5)


def test_lanes_auto_from_measured_memory():
    from dreamvideo import config
    from dreamvideo.runner import lane_count, lanes_that_fit

    gib = 2**30
    assert lanes_that_fit(80 * gib, 3 * gib, 10_000, 48) == 8  # an H100 at 1080p: capped at 8
    assert lanes_that_fit(10 * gib, 3 * gib, 10_000, 48) == 3  # 90 % of 10 GiB holds three
    assert lanes_that_fit(2 * gib, 3 * gib, 10_000, 48) == 1  # never fewer than one
    assert lanes_that_fit(80 * gib, 1 * gib, 100, 48) == 2  # at least a chunk per lane
    cfg = config.load("default", sets=["video.lanes=auto"])
    probed = []
    assert lane_count(cfg, torch.device("cpu"), 64, 64, 1000, lambda: probed.append(1) or gib) == 1  # CPU: one
    assert probed == []  # and no probe there
    assert lane_count(config.load("default", sets=["video.lanes=3"]), torch.device("cpu"), 64, 64, 1000) == 3


def test_the_memory_a_lane_is_counted_for_is_its_carried_state_and_flows():
    from dreamvideo.carry import keyframe
    from dreamvideo.runner import CARRY_BYTES_PER_PIXEL

    carry = keyframe(torch.zeros(1, 3, 16, 16), torch.zeros(1, 3, 16, 16), torch.ones(1, 1, 1, 1))
    state = sum(t.shape[1] * t.element_size() for t in carry.__dict__.values()
                if torch.is_tensor(t) and t.shape[-2:] == (16, 16))  # key_share: one number
    assert CARRY_BYTES_PER_PIXEL == state + 2 * 2 * 4  # and two float32 flows


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on machines without a GPU")
def test_gpu_script_says_it_needs_a_gpu(tmp_path):
    import os

    script = os.path.join(os.path.dirname(__file__), "..", "benchmarks", "gpu.py")
    r = subprocess.run([sys.executable, script, "--out", str(tmp_path / "r")], capture_output=True, text=True)
    assert r.returncode == 2 and "no CUDA GPU" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not list(tmp_path.iterdir())


def test_one_place_decides_still_or_video_output():
    from dreamvideo.output import is_still

    assert is_still("a/still.png") and is_still("x.JPG")
    assert not any(is_still(p) for p in ("frames/%05d.png", "loop.gif", "loop.webp", "out.mp4", "out.mkv"))


def test_plan_tick_keys_shots_rekeys_lost_tracking_and_old_carries():
    """The tick's decisions, apart from the doing: a lane without a carry is a keyframe; one tracked too little
    rebases (or, with rekey_mode = dream, is dreamed afresh); rekey_every re-keys old carries; with video.repaint
    and video.repaint_lost, one that lost more than that share is repainted and rebases, whatever the re-key
    settings, unless it is younger than REPAINT_GAP frames (then the re-key settings decide: a rebase for too
    little tracked repaints too from REKEY_GAP frames on); without video.repaint_lost (the default) the lost share
    alone repaints nothing."""
    from dreamvideo.ticks import plan_tick
    from dreamvideo.config import VideoConfig

    v = VideoConfig()
    tick = plan_tick([None, 3, 5, 7], {1: 0.9, 2: 0.2, 3: 0.6}, v)
    assert tick.keys == [0] and tick.light == [1, 2, 3] and tick.rebase == [False, True, False]
    fresh = plan_tick([None, 3, 5], {1: 0.9, 2: 0.2}, VideoConfig(rekey_mode="dream"))
    assert fresh.keys == [0, 2] and fresh.light == [1] and fresh.rebase == [False]
    old = plan_tick([10, 3], {0: 1.0, 1: 1.0}, VideoConfig(rekey_every=10))
    assert old.light == [0, 1] and old.rebase == [True, False]
    untracked = plan_tick([4], {}, v)  # flow = none: carried in place, never re-keyed by tracking
    assert untracked.light == [0] and untracked.rebase == [False]
    assert tick.repaint == [False, True, False]  # a re-key past REKEY_GAP repaints (video.repaint is on)
    young = plan_tick([3], {0: 0.2}, v)  # ... younger, it only rebases
    assert young.rebase == [True] and young.repaint == [False]
    rebased = plan_tick([1], {0: 0.2}, v, painted=[6])  # rebased a frame ago, repainted 6 frames ago
    assert rebased.repaint == [True]
    assert plan_tick([5], {0: 0.2}, VideoConfig(repaint=0)).repaint == [False]  # video.repaint = 0: never
    painted = plan_tick([13, 15, 17, 11], {0: 0.95, 1: 0.85, 2: 0.3, 3: 0.3},
                        VideoConfig(repaint=0.1, rekey_mode="dream", repaint_lost=True))
    assert painted.keys == [3] and painted.repaint == [False, True, True] and painted.rebase == [False, True, True]
    unpainted = plan_tick([15, 17], {0: 0.85, 1: 0.3}, VideoConfig(repaint=0.1, rekey_mode="dream"))
    assert unpainted.keys == [1] and unpainted.repaint == [False]  # lost alone: refreshed, or too little: re-keyed
    # drawn out: a lane tracked all over whose carried dream is stretched past video.stretch on more than
    # video.repaint of the frame repaints, as one that lost that share would (the stretched share alone counts)
    drawn = plan_tick([13, 13, 13], {0: 1.0, 1: 1.0, 2: 0.9}, v, carried={0: 0.8, 1: 0.9, 2: 0.8})
    assert drawn.repaint == [True, False, False] and drawn.rebase == [True, False, False]
    assert drawn.drawn == [True, False, False] and painted.drawn == [False, False, False]  # called by the stretch


def test_staged_items_dream_as_numpy_ones_and_host_frames_read_as_arrays(monkeypatch):
    """The CUDA transfer path's logic on the CPU: stage() puts a frame and its flows (float16) in (here: stand-in)
    pinned tensors and the dreamer gives the same frames as from numpy; a HostFrame waits for its copy's event and
    reads as a numpy array."""
    from dreamvideo import config
    from dreamvideo.runner import make_dreamer

    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (24, 32, 3), dtype=np.uint8) for _ in range(2)]
    back = rng.normal(0, 0.5, (2, 24, 32)).astype(np.float16).astype(np.float32)  # staged flows are float16
    items = [FrameIn(0, frames[0], cut=True), FrameIn(1, frames[1], back, -back)]
    monkeypatch.setattr(torch.Tensor, "pin_memory", lambda t: t.clone())  # a CPU build cannot pin
    staged = [staging.stage(i, torch.device("cuda")) for i in items]
    assert isinstance(staged[1].frame, torch.Tensor) and staged[1].backward.dtype == torch.float16
    assert staging.stage(items[1], torch.device("cpu")) is items[1]

    cfg = config.load("default", sets=["model.name=tiny", "objective.spec=c2", "dream.octaves=1", "dream.steps=2"])

    def run(seq):
        vd, carry, out = animate.VideoDreamer(make_dreamer(cfg), cfg.video), None, []
        for item in seq:
            (y,), (carry,) = vd.step([item], [carry])
            out.append(y)
        return out

    assert all(np.array_equal(a, b) for a, b in zip(run(items), run(staged)))

    class Event:
        waited = False

        def synchronize(self):
            Event.waited = True

    hf = staging.HostFrame(torch.from_numpy(frames[0]), Event())
    assert np.array_equal(np.asarray(hf), frames[0]) and Event.waited


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_tick_reads_back_through_pinned_memory_the_same_frames():
    out = [torch.rand(1, 3, 36, 64, device="cuda") for _ in range(3)]
    frames = staging.to_frames(out)
    assert all(isinstance(f, staging.HostFrame) and f.host.is_pinned() for f in frames)
    want = [(o.clamp(0, 1) * 255).round().byte()[0].permute(1, 2, 0).cpu().numpy() for o in out]
    assert all(np.array_equal(np.asarray(f), w) for f, w in zip(frames, want))
