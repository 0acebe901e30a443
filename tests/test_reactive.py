"""Keyframed and audio-reactive settings in video and zoom modes."""
from fractions import Fraction

import numpy as np
import pytest

from dreamvideo import config, objectives, video
from dreamvideo.cli import main
from dreamvideo.carry import FrameIn
from dreamvideo.reactive import Animator
from dreamvideo.runner import make_dreamer
from dreamvideo.synth import lavfi_clip

FAST = ["--octaves", "2", "--steps", "2"]


def frames_of(path):
    i = video.count_frames(video.probe(path))
    return list(video.read_frames(i, 0, i.frames))


@pytest.fixture(scope="module")
def swell(tmp_path_factory):
    """A moving-pattern clip whose soundtrack is silent for 1.2 s, then a loud tone."""
    path = str(tmp_path_factory.mktemp("reactive") / "swell.mp4")
    video.run_ffmpeg(["-f", "lavfi", "-i", "testsrc2=size=160x90:rate=25:duration=2.4",
                      "-f", "lavfi", "-i", "sine=frequency=220:duration=2.4,volume='if(lt(t,1.2),0,1)':eval=frame",
                      "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", path], "make swell")
    return path


def test_strength_follows_the_envelope(swell, tmp_path):
    out = str(tmp_path / "r.mkv")
    assert main([swell, out, *FAST, "--codec", "ffv1", "--step-size", "0.002 + 0.06*rms"]) == 0
    src, got = frames_of(swell), frames_of(out)
    strength = np.array([np.abs(a.astype(float) - b).mean() for a, b in zip(got, src)])
    quiet, loud = strength[5:28].mean(), strength[35:].mean()
    assert loud > 1.5 * quiet, (quiet, loud)
    steady = str(tmp_path / "s.mkv")  # the same without the expression does not swell
    assert main([swell, steady, *FAST, "--codec", "ffv1", "--step-size", "0.02"]) == 0
    flat = np.array([np.abs(a.astype(float) - b).mean() for a, b in zip(frames_of(steady), src)])
    assert flat[35:].mean() < 1.5 * flat[5:28].mean()


def test_reacting_to_a_soundtrack_and_writing_none(swell, tmp_path):
    """--audio FILE --no-audio: the video reacts to FILE (here the swell's own, given as a file) and is written
    without sound (before, --no-audio was ignored and FILE written)."""
    out, steady = str(tmp_path / "r.mkv"), str(tmp_path / "s.mkv")
    assert main([swell, out, *FAST, "--codec", "ffv1", "--step-size", "0.002 + 0.06*rms", "--audio", swell,
                 "--no-audio"]) == 0
    assert main([swell, steady, *FAST, "--codec", "ffv1", "--step-size", "0.002 + 0.06*rms"]) == 0
    assert video.probe(out).audio == () and video.probe(steady).audio != ()
    assert np.array_equal(np.stack(frames_of(out)), np.stack(frames_of(steady)))  # the same reaction


def test_objective_keyframes_crossfade(tmp_path):
    cfg = config.load("default", sets=["model.name=tiny", "objective.spec=0s:c2, 2s:c3", "objective.crossfade=1"])
    dreamer = make_dreamer(cfg)
    anim = Animator(cfg, dreamer, 25)
    before, during, after = (anim.at(frame).objective for frame in (25, 62, 80))  # 1 s, 2.5 s, 3.2 s
    assert before is dreamer.objective_for("c2") and after is dreamer.objective_for("c3")
    weights = sorted(w for w, _ in during.terms)
    assert isinstance(during, objectives.Sum) and weights == pytest.approx([0.48, 0.52])


def test_schedules_in_lanes_are_evaluated_at_each_lanes_frames(tmp_path):
    clip = str(tmp_path / "cut.mp4")
    lavfi_clip(clip, seconds=2.0, cut_at=1.0)
    args = [clip, "--codec", "ffv1", *FAST, "--step-size", "smooth 0s:0.005, 1.5s:0.04"]
    one, two = str(tmp_path / "1.mkv"), str(tmp_path / "2.mkv")
    assert main([args[0], one, *args[1:], "--lanes", "1"]) == 0
    assert main([args[0], two, *args[1:], "--lanes", "2"]) == 0
    assert all(np.array_equal(a, b) for a, b in zip(frames_of(one), frames_of(two)))


def test_audio_file_drives_zoom_and_becomes_its_soundtrack(swell, tmp_path):
    music = str(tmp_path / "music.m4a")
    video.run_ffmpeg(["-f", "lavfi", "-i", "sine=frequency=60:duration=5", "-c:a", "aac", music], "make music")
    out = str(tmp_path / "z.mp4")
    assert main(["zoom", out, "--size", "64x64", "--frames", "12", "--fps", "12", "--zoom", "1.2 + 0.8*bass",
                 "--rotate", "0s:0, 1s:30", "--audio", music, "--octaves", "1", "--steps", "1"]) == 0
    i = video.count_frames(video.probe(out))
    assert i.frames == 12 and [a.codec for a in i.audio] == ["aac"] and i.duration < 1.2
    assert main(["zoom", str(tmp_path / "y.mp4"), "--zoom", "1 + bass", "--frames", "3"]) == 2  # no --audio


def test_audio_file_replaces_a_videos_soundtrack(swell, tmp_path):
    music = str(tmp_path / "music.m4a")
    video.run_ffmpeg(["-f", "lavfi", "-i", "sine=frequency=330:duration=9", "-c:a", "aac", music], "make music")
    out = str(tmp_path / "v.mp4")
    assert main([swell, out, *FAST, "--audio", music, "--frames", "20"]) == 0
    i = video.count_frames(video.probe(out))
    assert i.frames == 20 and [a.codec for a in i.audio] == ["aac"] and abs(i.duration - 0.8) < 0.1


def test_objective_weights_follow_expressions():
    cfg = config.load("default", sets=["model.name=tiny", "objective.spec=[2*t]*c2 + [hold 0s:1, 1s:3]*c3"])
    dreamer = make_dreamer(cfg)
    anim = Animator(cfg, dreamer, 10)
    assert anim.active
    weights = lambda frame: [w for w, _ in anim.at(frame).objective.terms]
    assert weights(0) == [0.0, 1.0] and weights(5) == pytest.approx([1.0, 1.0]) and weights(15) == pytest.approx([3.0, 3.0])
    with pytest.raises(Exception, match="not allowed"):
        make_dreamer(config.load("default", sets=["model.name=tiny", "objective.spec=[open(1)]*c2"]))


def test_animated_pan():
    cfg = config.load("default", sets=["model.name=tiny", "objective.spec=c2", "zoom.pan=0s:0, 1s:40 ; 2*t"])
    anim = Animator(cfg, make_dreamer(cfg), 10)
    assert anim.at(5).zoom.pan == (20.0, 1.0) and anim.at(20).zoom.pan == (40.0, 4.0)
    assert config.load("default", sets=["zoom.pan=3,4"]).zoom.pan == (3.0, 4.0)
    with pytest.raises(Exception, match="bad pan"):
        config.load("default", sets=["zoom.pan=1;2;3"])


def test_bass_drives_the_zoom():
    """The zoom factor follows the bass envelope, and with it the flow of each frame's zoom step."""
    import torch

    from dreamvideo.zoomloop import zoom_step_flow

    cfg = config.load("default", sets=["model.name=tiny", "objective.spec=c2", "zoom.zoom=1 + 2*bass"])
    bass = np.r_[np.zeros(12), np.ones(12)]  # silent half a second, then full bass (features per frame)
    anim = Animator(cfg, make_dreamer(cfg), 24, {"bass": bass, "mid": 0 * bass, "high": 0 * bass, "rms": bass})
    quiet, loud = anim.at(6).zoom, anim.at(18).zoom
    assert (quiet.zoom, loud.zoom) == (1.0, 3.0)
    step = lambda z: zoom_step_flow(32, 32, z, 24).abs().max()  # noqa: E731
    assert step(quiet) == 0 and step(loud) > 0.4  # 3^(1/24) at 16 px from the centre


def two_lanes(d, cfg, anim, frames, one_by_one):
    """Two lanes at frames 1.. and 8.. of an animation, still (zero flow): their outputs, interleaved, and the
    lane count of each dreaming call."""
    from dreamvideo import animate

    vd = animate.VideoDreamer(d, cfg.video, anim)
    vd.one_by_one = one_by_one
    calls = []
    real = vd._step
    vd._step = lambda *args: calls.append(len(args[1])) or real(*args)
    back = np.zeros((2, 32, 48), np.float32)
    outs, carries = [], [None, None]
    for t, f in enumerate(frames):
        items = [FrameIn(1 + t, f, None if t == 0 else back, None, t == 0),
                 FrameIn(8 + t, f, None if t == 0 else back, None, t == 0)]
        out, carries = vd.step(items, carries)
        outs += out
    return outs, calls


def test_animated_lanes_dream_as_one_batch_with_their_own_numbers():
    """Where lanes are batched (CUDA), animated settings no longer split them: lanes whose settings differ only in
    step size, light step or blend dream together with per-lane numbers and give what each lane alone gives
    (within the rounding a batch brings); another step count makes its own batch."""
    from dataclasses import replace

    from dreamvideo import objectives, ticks

    cfg = config.load("default", sets=["model.name=tiny", "objective.spec=c2", "dream.octaves=2", "dream.steps=3",
                                       "dream.step_size=0s:0.01, 1s:0.03", "video.blend=0s:1, 1s:0.5"])
    d = make_dreamer(cfg)
    anim = Animator(cfg, d, 10)
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (32, 48, 3), dtype=np.uint8) for _ in range(2)]
    a, b = anim.at(1), anim.at(8)
    assert a.dream.step_size != b.dream.step_size and ticks.batches([a, b]) == [[0, 1]]
    more = replace(b, dream=replace(b.dream, steps=4))
    assert ticks.batches([a, more, b]) == [[0, 2], [1]]
    assert ticks.batches([a, replace(b, objective=d.objective_for("c3"))]) == [[0, 1]]  # sums: one batch
    assert ticks.batches([a, replace(b, objective=objectives.LayerL2("c3"))]) == [[0], [1]]

    alone, calls_alone = two_lanes(d, cfg, anim, frames, one_by_one=True)
    together, calls_together = two_lanes(d, cfg, anim, frames, one_by_one=False)
    assert calls_alone == [1, 1, 1, 1] and calls_together == [2, 2]
    assert all(np.abs(x.astype(int) - y).max() <= 2 for x, y in zip(alone, together))
    assert np.abs(alone[0].astype(int) - alone[1]).max() > 10  # the two lanes' numbers did differ


@pytest.mark.parametrize("spec", ["[0.2 + t]*c2 + [2 - t]*c3", "0s:c2, 0.5s:c3"])
def test_lanes_with_animated_objectives_dream_as_one_batch(spec):
    """Animated objective weights and keyframed objectives no longer split a batch: the lanes' objectives are
    combined per sample (objectives.PerSample), and each lane gets what it gets alone (within the rounding a
    batch brings), though the two lanes' objectives differ."""
    cfg = config.load("default", sets=["model.name=tiny", f"objective.spec={spec}", "objective.crossfade=0.4",
                                       "dream.octaves=2", "dream.steps=3", "dream.step_size=0.03"])
    d = make_dreamer(cfg)
    anim = Animator(cfg, d, 10)
    rng = np.random.default_rng(1)
    frames = [rng.integers(0, 256, (32, 48, 3), dtype=np.uint8) for _ in range(3)]
    assert anim.at(1).objective is not anim.at(8).objective

    alone, calls_alone = two_lanes(d, cfg, anim, frames, one_by_one=True)
    together, calls_together = two_lanes(d, cfg, anim, frames, one_by_one=False)
    assert calls_alone == [1] * 6 and calls_together == [2] * 3
    assert all(np.abs(x.astype(int) - y).max() <= 2 for x, y in zip(alone, together))
    assert np.abs(alone[0].astype(int) - alone[1]).max() > 10  # the two lanes' objectives did differ


def test_a_part_of_a_video_reacts_as_it_does_in_the_whole(swell):
    """Features for a job over frames 35..44 (the tone) are those frames' rows of the whole soundtrack's: scaled
    and smoothed over all of it (before, over the part alone: a render from --start, or a still, reacted
    otherwise)."""
    from dreamvideo.reactive import soundtrack_features

    cfg = config.load("default", sets=["dream.step_size=0.01 + 0.04*rms"])
    whole = soundtrack_features(cfg, swell, Fraction(25), 50, 0)
    part = soundtrack_features(cfg, swell, Fraction(25), 10, 35)
    assert all(np.array_equal(part[k], whole[k][35:45]) for k in whole)
    assert float(part["rms"].min()) > 0.8  # the loud part of the swell, as loud as in the whole
