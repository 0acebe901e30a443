"""The look's measures on synthetic clips with known motion: the true flows are true, and the flicker measured
along them tells a dream that moves with the scene from one that flickers."""
import cv2
import numpy as np
import pytest
import skimage.data

from dreamvideo import flow, metrics, synth

SIZE = (256, 144)


def _camera(n=12):
    """The first n frames of the 10 s camera clip, its true flows and its ideal carry."""
    photo = skimage.data.astronaut()
    path = synth.camera_path(photo.shape, SIZE, 250)[:n]
    return [synth._affine(photo, SIZE, *p) for p in path], synth.camera_flows(photo.shape, SIZE, path), \
        lambda d, f: synth.glued(f, d, photo.shape, path)


def _smoke(n=12):
    """The first n frames of the 5 s smoke clip, its true flows and its ideal carry."""
    return synth.smoke(skimage.data.rocket(), SIZE, 125)[:n], synth.smoke_flows(SIZE, 125)[:n - 1], \
        lambda d, f: synth.smoke_glued(f, d)


def _cloth(n=12):
    """The first n frames of the cloth clip, its true flows and its ideal carry."""
    return synth.cloth(skimage.data.chelsea(), SIZE, n), synth.cloth_flows(SIZE, n), \
        lambda d, f: synth.cloth_glued(f, d)


def _longpan(n=12):
    """The first n frames of a 40 s pan like look.py's longpan (fewer photos) and its true flows."""
    photos = [skimage.data.coffee(), skimage.data.astronaut(), skimage.data.chelsea()]
    wide = synth.mosaic(photos, (SIZE[0] * 14, SIZE[0] * 5 // 4), SIZE[0] * 5 // 8)
    path = synth.pan_path(wide.shape, SIZE, 1000)[:n]
    return synth.along(wide, SIZE, path), synth.camera_flows(wide.shape, SIZE, path), None


@pytest.mark.parametrize("clip", [_camera, _smoke, _cloth, _longpan])
def test_true_flows_explain_the_clip(clip):
    frames, truth, _ = clip()
    assert len(truth) == len(frames) - 1 and truth[0].shape == (1, 2, SIZE[1], SIZE[0])
    along = metrics.warping_error(frames, [(f, flow.inside(f)) for f in truth])
    still = metrics.warping_error(frames, [(f * 0, flow.inside(f)) for f in truth])
    shifted = metrics.warping_error(frames, [(f + 1, flow.inside(f)) for f in truth])  # 1 px off
    assert along < 0.8 * still and along < 0.7 * shifted


@pytest.mark.parametrize("clip, fresh_at_least", [(_camera, 1.8), (_smoke, 1.8), (_cloth, 1.25)])
def test_true_flicker_tells_a_carried_dream_from_a_flickering_one(clip, fresh_at_least):
    """(The cloth's own change of light, which no flow explains, is most of its warping error: a dream's flicker
    adds less to it.)"""
    frames, truth, glue = clip()
    rng = np.random.default_rng(0)

    def detail():
        return cv2.GaussianBlur(rng.normal(0, 0.05, (SIZE[1], SIZE[0], 3)).astype(np.float32), (0, 0), 1.0)

    carried = glue(detail(), frames)
    fresh = [np.clip(f + 255 * detail(), 0, 255).astype(np.uint8) for f in frames]  # a new dream every frame
    assert metrics.true_flicker(carried, frames, truth) < 1.1
    assert metrics.true_flicker(fresh, frames, truth) > fresh_at_least


def test_scale_persistence_tells_a_dream_that_turned_to_stripes():
    """A dream of blobs that becomes one of pixel-fine stripes over a shot has scale persistence well below 1; a
    dream that keeps its blobs has about 1, with a tint over it too (metrics.coarseness leaves out what is
    wider than the patterns). Shots shorter than 1 s are left out."""
    rng = np.random.default_rng(0)
    grey = np.full((64, 96, 3), 128, np.uint8)
    blobs = cv2.GaussianBlur(rng.normal(0, 1, (64, 96, 3)).astype(np.float32), (0, 0), 2.0)
    blobs = 40 * blobs / np.abs(blobs).mean()
    stripes = np.full_like(blobs, -40)
    stripes[:, ::2] = 40  # zero-mean, as a dream's change is
    as_frame = lambda d: np.clip(grey + d, 0, 255).astype(np.uint8)  # noqa: E731
    kept = [as_frame(blobs)] * 30
    drifted = [as_frame(blobs * (1 - k / 29) + stripes * k / 29) for k in range(30)]
    assert metrics.coarseness(as_frame(stripes), grey) < 0.2 * metrics.coarseness(as_frame(blobs), grey)
    tinted = as_frame(blobs + np.array([30, -20, 10], np.float32))
    assert metrics.coarseness(tinted, grey) == pytest.approx(metrics.coarseness(as_frame(blobs), grey), rel=0.05)
    assert metrics.scale_persistence(kept, [grey] * 30, set()) == [pytest.approx(1.0)]
    assert metrics.scale_persistence(drifted, [grey] * 30, set())[0] < 0.8
    assert metrics.scale_persistence(kept, [grey] * 30, {20}) == []  # 20 and 10 frames: no shot of 1 s


def test_persistence_of_a_dream_that_shows_nothing_at_first_is_nan():
    """Persistence is the last half second's strength and added detail over the first's; where the first has
    next to none (a shot opening on black; a night shot whose output has less detail than its grainy input, as
    re-encoding takes grain) the ratio is NaN, not a huge or negative number, and benchmarks/measure.py reports
    the shots that have one."""
    rng = np.random.default_rng(0)
    grainy = [np.clip(20 + rng.normal(0, 6, (64, 96, 3)), 0, 255).astype(np.uint8) for _ in range(30)]
    smoothed = [cv2.GaussianBlur(f, (0, 0), 1.0) for f in grainy]  # less detail than the input: none added
    dreamed = [np.clip(f.astype(int) + 30 * (np.arange(96)[:, None] % 8 < 4), 0, 255).astype(np.uint8) for f in grainy]
    [(strength, added)] = metrics.persistence(smoothed, grainy, set())
    assert strength == pytest.approx(1.0, abs=0.1) and np.isnan(added)
    black = [np.zeros((64, 96, 3), np.uint8)] * 30
    assert all(np.isnan(metrics.persistence(black, black, set())[0]))
    [(strength, added)] = metrics.persistence(dreamed, grainy, set())
    assert strength == pytest.approx(1.0, abs=0.05) and added == pytest.approx(1.0, abs=0.05)
    measure = _script_main("measure").__globals__["measure"]
    row = measure(grainy + grainy, smoothed + dreamed, {30}, 25.0)  # the first shot's NaN is left out
    assert row["persist_detail"] == pytest.approx(1.0, abs=0.05)


def test_object_share_is_the_dream_on_the_object_over_the_rest():
    grey = np.full((32, 32, 3), 100, np.uint8)
    mask = np.zeros((32, 32), bool)
    mask[8:16, 8:16] = True
    out = grey + 10 * np.ones_like(grey)
    out[mask] = grey[mask] + 5  # half as much dream on the object
    assert metrics.object_share([out, out], [grey, grey], [mask, mask]) == pytest.approx(0.5)
    assert np.isnan(metrics.object_share([out], [grey], [np.zeros_like(mask)]))  # no object shown


def test_ghost_index_of_an_object_that_sweeps_the_whole_frame():
    """The ghost index compares the dream's low-frequency change on pixels an object has left with that on
    pixels it never covered; frames where it has covered all of them (a dancer crossing the whole frame) have
    nothing to compare with and are left out, rather than making the index NaN. About 1 with no trace of it,
    well above 1 where its silhouette lingers."""
    grey = np.full((32, 64, 3), 100, np.uint8)
    masks = [np.zeros((32, 64), bool) for _ in range(8)]
    for t, m in enumerate(masks):
        m[:, 8 * t:8 * t + 16] = True  # by frame 3 it has covered the left 48 columns, by frame 6 all 64
    clean = [grey + 10] * 8
    assert metrics.ghost(clean, [grey] * 8, masks) == pytest.approx(1.0)
    seen, lingering = np.zeros((32, 64), bool), []
    for m in masks:
        out = grey + 10
        out[seen & ~m] += 30  # its trace stays where it was
        lingering.append(out)
        seen |= m
    assert metrics.ghost(lingering, [grey] * 8, masks) > 2


def test_scene_memory_tells_the_scenes_own_dream_from_a_new_one():
    """metrics.scene_memory: a passer crosses a panning scene (synth.passer, synth.scene_maps); where it passed,
    a dream that moved with the scene (the first frame's dream, shifted with it) measures about 1, another dream
    grown there about 0; an object that covered nothing has nothing to measure (NaN)."""
    frames, masks = synth.passer(skimage.data.coffee(), skimage.data.chelsea(), SIZE, 30, enter=2, leave=25)
    maps = synth.scene_maps(SIZE, 30)
    rng = np.random.default_rng(0)
    w = SIZE[0] + 30  # the scene's dream, wide enough for the pan
    scene = cv2.GaussianBlur(rng.normal(0, 20, (SIZE[1], w)).astype(np.float32), (0, 0), 2.0)
    x = np.arange(SIZE[0], dtype=np.float32)

    def dreamed(t, fresh=None):
        d = cv2.remap(scene, np.broadcast_to(x + synth.scenes.PAN * t, (SIZE[1], SIZE[0])).copy(),
                      np.broadcast_to(np.arange(SIZE[1], dtype=np.float32)[:, None], (SIZE[1], SIZE[0])).copy(),
                      cv2.INTER_LINEAR)
        if fresh is not None:
            d = np.where(fresh, cv2.GaussianBlur(rng.normal(0, 20, d.shape).astype(np.float32), (0, 0), 2.0), d)
        return np.clip(frames[t] + d[..., None], 0, 255).astype(np.float32)

    kept = [dreamed(t) for t in range(30)]
    assert metrics.scene_memory(kept, frames, masks, maps) > 0.9
    regrown = kept[:-1] + [dreamed(29, fresh=np.ones(masks[0].shape, bool))]
    assert abs(metrics.scene_memory(regrown, frames, masks, maps)) < 0.2
    none = [np.zeros_like(m) for m in masks]
    assert np.isnan(metrics.scene_memory(kept, frames, none, maps))


def test_the_dancers_mask_is_where_it_covers_the_scene():
    """synth.dancer: its mask (for the ghost index and its share of the dream) is exactly where its frames
    differ from the same scene without it; its limbs move from frame to frame (non-rigid: the mask changes
    shape, not only place), and it is gone by `leave`."""
    scene, skin = skimage.data.coffee(), skimage.data.chelsea()
    frames, masks = synth.dancer(scene, skin, SIZE, 40, enter=5, leave=35)
    bare, _ = synth.dancer(scene, skin, SIZE, 40, enter=40, leave=41)
    for t in (10, 20, 30):
        differs = np.abs(frames[t].astype(int) - bare[t]).max(-1) > 0
        assert not (differs & ~masks[t]).any() and (differs & masks[t]).sum() > 0.95 * masks[t].sum()
    shifted = lambda m: np.roll(m, int(np.argmax(masks[20].any(0)) - np.argmax(m.any(0))), axis=1)  # noqa: E731
    assert (shifted(masks[21]) ^ masks[20]).sum() > 0.1 * masks[20].sum()  # more than a move (0.33; 0 rigid)
    assert not masks[36].any() and masks[20].mean() > 0.05


def test_shimmer_tells_a_dream_that_holds_still_from_one_regrown_every_frame():
    """metrics.shimmer on a still region: 0 for the same dream on every frame, about 1 or more for a new one
    every frame; leftover tells the first picture's dream lingering from a new one."""
    rng = np.random.default_rng(0)
    inp = [np.full((16, 16, 3), 128, np.uint8)] * 6
    still = np.ones((16, 16), bool)
    dream = rng.integers(-20, 20, (16, 16, 3))
    held = [(128 + dream).astype(np.uint8)] * 6
    regrown = [(128 + rng.integers(-20, 20, (16, 16, 3))).astype(np.uint8) for _ in range(6)]
    assert metrics.shimmer(held, inp, still) == 0
    assert metrics.shimmer(regrown, inp, still) > 0.9
    assert metrics.leftover(held, inp, 0) > 0.99 and abs(metrics.leftover(regrown, inp, 0)) < 0.2


def _script_main(name):
    import importlib.util
    import os

    path = os.path.join(os.path.dirname(__file__), "..", "benchmarks", f"{name}.py")
    spec = importlib.util.spec_from_file_location(f"bench_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def test_measure_script_on_a_video_and_its_dream(tmp_path, capsys):
    """benchmarks/measure.py on a user's own files: a "dream" that is the input itself adds no flicker and no
    strength; one with new noise on every frame flickers; a dream of another clip, or too short, is refused in
    one line with exit code 2."""
    from fractions import Fraction

    from dreamvideo import encode

    clip = str(tmp_path / "in.mp4")
    synth.photo_clip(clip, [skimage.data.astronaut(), skimage.data.coffee()], SIZE, Fraction(25), 30, cut_at=20)
    main = _script_main("measure")
    assert main([clip, clip, "--frames", "30"]) == 0
    head, row = capsys.readouterr().out.strip().splitlines()
    got = dict(zip(head.split(" | "), row.split(" | ")))
    assert got["frames"] == "30" and got["cuts"] == "1" and got["flicker"] == "1.00" and got["strength"] == "0.0000"
    from dreamvideo import video

    info = video.count_frames(video.probe(clip))
    noisy = str(tmp_path / "noisy.mp4")
    writer = encode.Writer(noisy, *SIZE, Fraction(25), encode.Encoding("libx264", 0))
    rng = np.random.default_rng(0)
    for f in video.read_frames(info, 0, 30):
        writer.write(np.clip(f + rng.normal(0, 12, f.shape), 0, 255).astype(np.uint8))
    writer.close()
    assert main([clip, noisy, "--frames", "30"]) == 0
    got = dict(zip(*[line.split(" | ") for line in capsys.readouterr().out.strip().splitlines()]))
    assert float(got["flicker"]) > 3 and float(got["strength"]) > 0.02
    assert main([clip, noisy, "--start", "1"]) == 2  # 5 input frames left for a 30-frame dream
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "give the input and --start" in err[0]
