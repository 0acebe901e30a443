"""Video: I/O exactness, audio, temporal carry, lanes, resume, bad input, process hygiene."""
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from fractions import Fraction

import numpy as np
import pytest
import torch

from dreamvideo import animate, config, encode, rates, video
from dreamvideo.carry import FrameIn, frame_generator
from dreamvideo.cli import main
from dreamvideo.detail import soften_detail
from dreamvideo.errors import UserError
from dreamvideo.images import to_tensor, to_uint8
from dreamvideo.job import Job
from dreamvideo.runner import make_dreamer
from dreamvideo.synth import lavfi_clip

FAST = ["--octaves", "2", "--steps", "2"]
LOSSLESS = ["--codec", "ffv1"]  # with a .mkv output: frames can be compared exactly


@pytest.fixture(scope="session")
def clips(tmp_path_factory):
    d = tmp_path_factory.mktemp("clips")
    paths = {name: str(d / f"{name}.mp4") for name in ("sine", "ntsc", "cut", "surround", "silent")}
    paths["odd"] = str(d / "odd.mkv")  # 4:2:0 H.264 cannot hold odd sizes
    lavfi_clip(paths["sine"], seconds=2.0)
    lavfi_clip(paths["ntsc"], fps="30000/1001", seconds=2.0)
    lavfi_clip(paths["cut"], seconds=2.0, cut_at=1.0)
    lavfi_clip(paths["surround"], seconds=1.0, audio="5.1")
    lavfi_clip(paths["odd"], size=(160, 90), seconds=1.0, audio=None,
               video_args=("-vf", "scale=161:91", "-c:v", "ffv1"))
    lavfi_clip(paths["silent"], seconds=1.0, audio=None)
    return paths


def info(path):
    return video.count_frames(video.probe(path))


def frames_of(path):
    i = info(path)
    return list(video.read_frames(i, 0, i.frames))


def ffmpeg_children():
    """Live ffmpeg processes whose parent is this test process."""
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = open(f"/proc/{pid}/stat").read()
        except OSError:
            continue
        comm, rest = stat[stat.index("(") + 1: stat.rindex(")")], stat[stat.rindex(")") + 2:].split()
        if int(rest[1]) == os.getpid() and "ffmpeg" in comm and rest[0] != "Z":
            out.append(pid)
    return out


@pytest.mark.parametrize("text,want", [("29.97", Fraction(30000, 1001)), ("23.98", Fraction(24000, 1001)),
                                       ("59.94", Fraction(60000, 1001)), ("25", Fraction(25)), ("12.50", Fraction(25, 2))])
def test_exact_fps(text, want):
    assert video.exact_fps(text) == want


def test_probe(clips):
    i = info(clips["ntsc"])
    assert i.fps == Fraction(30000, 1001) and i.frames == 60 and (i.width, i.height) == (160, 90)
    assert [a.channels for a in info(clips["surround"]).audio] == ["5.1"]
    assert info(clips["silent"]).audio == ()


def test_video_keeps_frames_fps_duration_audio(clips, tmp_path):
    out = str(tmp_path / "out.mp4")
    assert main([clips["ntsc"], out, *FAST]) == 0
    a, b = info(clips["ntsc"]), info(out)
    assert b.frames == a.frames and b.fps == a.fps == Fraction(30000, 1001)
    assert abs(b.duration - a.duration) < 1 / 29.97
    assert [s.codec for s in b.audio] == ["aac"]
    assert os.path.exists(out + ".toml") and not os.path.exists(out + ".dreamvideo-work")
    dreamed, src = frames_of(out), frames_of(clips["ntsc"])
    assert np.mean([np.abs(x.astype(float) - y).mean() for x, y in zip(dreamed, src)]) > 5  # visibly dreamed
    assert ffmpeg_children() == []


def test_surround_stays_surround_and_no_audio_drops_it(clips, tmp_path):
    out, mute = str(tmp_path / "s.mkv"), str(tmp_path / "m.mp4")
    assert main([clips["surround"], out, *FAST]) == 0
    assert [(s.codec, s.channels) for s in info(out).audio] == [("aac", "5.1")]
    assert main([clips["surround"], mute, *FAST, "--no-audio"]) == 0
    assert info(mute).audio == ()


def test_frame_range_is_exact(clips, tmp_path):
    out = str(tmp_path / "r.mkv")  # steps 0: the output is the input, so frames can be matched exactly
    assert main([clips["sine"], out, "--steps", "0", "--set", "video.light_steps=0", *LOSSLESS,
                 "--start", "0.4", "--frames", "15"]) == 0
    got, src = frames_of(out), frames_of(clips["sine"])
    assert len(got) == 15
    assert all(np.array_equal(g, s) for g, s in zip(got, src[10:25]))
    assert main([clips["sine"], str(tmp_path / "d.mp4"), *FAST, "--duration", "0.4"]) == 0
    assert info(str(tmp_path / "d.mp4")).frames == 10


def test_odd_size(clips, tmp_path):
    exact, h264 = str(tmp_path / "o.mkv"), str(tmp_path / "o.mp4")
    assert main([clips["odd"], exact, *FAST, *LOSSLESS]) == 0
    assert (info(exact).width, info(exact).height, info(exact).frames) == (161, 91, 25)
    assert main([clips["odd"], h264, *FAST]) == 0  # 4:2:0 needs even sizes: one edge row/column repeated
    assert (info(h264).width, info(h264).height, info(h264).frames) == (162, 92, 25)


def test_output_formats(clips, tmp_path):
    for name in ("o.gif", "o.webp", "o.mov"):
        args = [clips["silent"], str(tmp_path / name), *FAST] + (["--codec", "prores_ks"] if name.endswith("mov") else [])
        assert main(args) == 0
    gif, webp = (tmp_path / "o.gif").read_bytes(), (tmp_path / "o.webp").read_bytes()
    assert b"NETSCAPE2.0" in gif  # loops forever
    assert b"ANIM" in webp and webp[webp.index(b"ANIM") + 12: webp.index(b"ANIM") + 14] == b"\0\0"  # loop count 0
    assert "prores" in subprocess.run([video.ffmpeg(), "-i", str(tmp_path / "o.mov")], capture_output=True,
                                      text=True).stderr
    assert main([clips["silent"], str(tmp_path / "seq_%04d.png"), *FAST]) == 0
    assert len(list(tmp_path.glob("seq_*.png"))) == 25


def test_cut_resets_the_carried_state(clips):
    cfg = config.load("default", sets=["dream.octaves=2", "dream.steps=2"])
    dreamer = make_dreamer(cfg)
    vd, carry, prev, outs = animate.VideoDreamer(dreamer, cfg.video), None, None, []
    frames = frames_of(clips["cut"])
    for i, f in enumerate(frames[:28]):
        cut = i in (0, 25)
        b, fw = animate.prepare_flows(None if cut else prev, f, "dis")
        (y,), (carry,) = vd.step([FrameIn(i, f, b, fw, cut)], [carry])
        outs.append(y)
        prev = f
    def alone(i):  # a keyframe: the full dream, its new detail softened
        x = to_tensor(frames[i])
        y = dreamer.dream(x, frame_generator(cfg.run.seed, i))
        return to_uint8(x + soften_detail(y - x, x, cfg.video))[0]

    assert np.array_equal(outs[25], alone(25))  # after the cut: a fresh dream, nothing carried across
    assert not np.array_equal(outs[24], alone(24))  # within a shot: carried along the flow


def test_lanes_same_count_and_identical_frames_across_a_cut(clips, tmp_path):
    one, two = str(tmp_path / "1.mkv"), str(tmp_path / "2.mkv")
    assert main([clips["cut"], one, *FAST, *LOSSLESS, "--lanes", "1"]) == 0
    assert main([clips["cut"], two, *FAST, *LOSSLESS, "--lanes", "2"]) == 0
    a, b = frames_of(one), frames_of(two)
    assert len(a) == len(b) == 50
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    mid = str(tmp_path / "mid.mp4")  # no cut: the second lane starts early and crossfades
    assert main([clips["sine"], mid, *FAST, "--lanes", "2"]) == 0
    assert info(mid).frames == 50 and info(mid).audio


def test_kill_and_resume_gives_the_same_frames(clips, tmp_path):
    args = [clips["sine"], "--steps", "4", *LOSSLESS, "--set", "video.chunk=5", "--set", "video.light_steps=3",
            "--threads", "2"]  # the same thread count in and out of process (it changes the rounding)
    whole = str(tmp_path / "whole.mkv")
    assert main([args[0], whole, *args[1:]]) == 0
    out = str(tmp_path / "killed.mkv")
    manifest = out + ".dreamvideo-work/manifest.json"
    p = subprocess.Popen([sys.executable, "-m", "dreamvideo", args[0], out, *args[1:]],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if len(json.load(open(manifest))["done"]) >= 3:
                break
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.02)
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert not os.path.exists(out)
    done = json.load(open(manifest))["done"]
    assert 3 <= len(done) < 10
    assert "[dream]" in json.load(open(manifest))["settings"]
    assert main([args[0], out, *args[1:]]) == 0
    a, b = frames_of(whole), frames_of(out)
    assert len(a) == len(b) == 50 and all(np.array_equal(x, y) for x, y in zip(a, b))


def test_failure_mid_file_keeps_work_resumable(clips, tmp_path, monkeypatch):
    cfg = config.load("default", sets=["dream.octaves=2", "dream.steps=2", "video.chunk=5", "video.codec=ffv1"])
    out = str(tmp_path / "broken.mkv")
    real = video.read_frames

    def breaks_at_12(info, start=0, count=None, size=None, skip=0, **kw):
        for k, f in enumerate(real(info, start, count, size, skip, **kw)):
            if start + skip + k == 12 and "damage" not in kw:  # the lane reader, not the scan
                raise UserError("the video broke at frame 12")
            yield f

    monkeypatch.setattr(video, "read_frames", breaks_at_12)
    with pytest.raises(UserError, match="broke at frame 12"):
        Job(clips["sine"], out, cfg).run()
    assert ffmpeg_children() == []
    assert not os.path.exists(out)
    manifest = json.load(open(out + ".dreamvideo-work/manifest.json"))
    assert len(manifest["done"]) == 2 and manifest["threads"] == torch.get_num_threads()
    monkeypatch.setattr(video, "read_frames", real)
    first, seen = torch.get_num_threads(), []
    real_step = animate.VideoDreamer.step
    monkeypatch.setattr(animate.VideoDreamer, "step", lambda *a: seen.append(torch.get_num_threads()) or real_step(*a))
    torch.set_num_threads(first + 1)  # a resume on a machine that now leaves another core idle
    try:
        Job(clips["sine"], out, cfg).run()
    finally:
        torch.set_num_threads(first)
    assert set(seen) == {first}  # computed with the first run's threads, so its rounding
    whole = str(tmp_path / "whole.mkv")
    Job(clips["sine"], whole, cfg).run()
    assert all(np.array_equal(x, y) for x, y in zip(frames_of(out), frames_of(whole)))


def test_interrupt_leaves_no_ffmpeg_and_no_output(clips, tmp_path):
    cfg = config.load("default", sets=["dream.octaves=2", "dream.steps=2", "video.chunk=5", "video.lanes=2"])
    out = str(tmp_path / "int.mp4")
    seen = []

    def progress_factory(total):
        def update(n):
            seen.append(n)
            if len(seen) == 8:
                raise KeyboardInterrupt

        return update

    with pytest.raises(KeyboardInterrupt):
        Job(clips["sine"], out, cfg).run(progress_factory)
    time.sleep(0.2)
    assert ffmpeg_children() == []
    assert not os.path.exists(out) and not any(p.name.endswith(".part.mp4") for p in tmp_path.iterdir())


@pytest.fixture(scope="session")
def bad_files(tmp_path_factory, clips):
    d = tmp_path_factory.mktemp("bad")
    garbage = d / "garbage.mp4"
    garbage.write_bytes(np.random.default_rng(0).bytes(4000))  # fixed: some random bytes parse as audio
    audio = str(d / "audio.m4a")
    video.run_ffmpeg(["-f", "lavfi", "-i", "sine=duration=1", "-c:a", "aac", audio], "make audio")
    zero = str(d / "zero.mp4")
    video.run_ffmpeg(["-f", "lavfi", "-i", "testsrc2=size=64x36:rate=25", "-frames:v", "0", zero], "make empty")
    full = str(d / "full.mp4")
    lavfi_clip(full, seconds=4.0, audio=None, video_args=("-c:v", "libx264", "-pix_fmt", "yuv420p", "-movflags", "+faststart"))
    data = open(full, "rb").read()
    truncated = d / "truncated.mp4"
    truncated.write_bytes(data[: len(data) * 6 // 10])
    return {"garbage": str(garbage), "audio": audio, "zero": zero, "truncated": str(truncated)}


@pytest.mark.parametrize("case,msg", [
    ("garbage", "is not a video"), ("audio", "has no video stream"), ("zero", "no video"),
    ("truncated", "looks truncated or corrupt"), ("bad_ext", "unknown output extension"),
    ("exists", "output exists"), ("lanes", "video.lanes"), ("start", "past the end"), ("time", "bad --start"),
])
def test_bad_video_input(case, msg, bad_files, clips, tmp_path, capsys):
    out = str(tmp_path / "out.mp4")
    (tmp_path / "exists.mp4").write_bytes(b"x")
    args = {
        "bad_ext": [clips["sine"], str(tmp_path / "o.xyz")],
        "exists": [clips["sine"], str(tmp_path / "exists.mp4")],
        "lanes": [clips["sine"], out, "--lanes", "0"],
        "start": [clips["sine"], out, "--start", "9"],
        "time": [clips["sine"], out, "--start", "1:xx"],
    }.get(case, [bad_files.get(case, ""), out])
    before = sorted(os.listdir(tmp_path))
    assert main(args) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("dreamvideo: error:")]
    assert len(errors) == 1 and msg in errors[0], errors
    assert sorted(os.listdir(tmp_path)) == before
    assert ffmpeg_children() == []


def test_rotated_input_is_dreamed_as_displayed(clips, tmp_path):
    rotated = str(tmp_path / "rot.mp4")
    video.run_ffmpeg(["-display_rotation", "90", "-i", clips["silent"], "-c", "copy", rotated], "rotate")
    i = info(rotated)
    assert (i.width, i.height, i.rotation) == (90, 160, 90)
    assert next(video.read_frames(i, 0, 1)).shape == (160, 90, 3)
    out = str(tmp_path / "rot_out.mp4")
    assert main([rotated, out, *FAST, "--frames", "5"]) == 0
    assert (info(out).width, info(out).height, info(out).frames) == (90, 160, 5)


def test_audio_is_reencoded_only_when_the_container_needs_it(clips, tmp_path):
    pcm = str(tmp_path / "pcm.mov")
    video.run_ffmpeg(["-i", clips["sine"], "-c:v", "copy", "-c:a", "pcm_s16le", pcm], "make pcm")
    to_mov, to_mp4 = str(tmp_path / "a.mov"), str(tmp_path / "a.mp4")
    assert main([pcm, to_mov, *FAST, "--frames", "5"]) == 0
    assert main([pcm, to_mp4, *FAST, "--frames", "5"]) == 0
    assert [s.codec for s in info(to_mov).audio] == ["pcm_s16le"]  # copied as it is
    assert [s.codec for s in info(to_mp4).audio] == ["aac"]  # mp4 cannot hold pcm: re-encoded


def test_preview_is_small_and_short(clips, tmp_path):
    out = str(tmp_path / "p.mp4")
    assert main([clips["sine"], out, "--preview"]) == 0
    i = info(out)
    assert (i.width, i.frames) == (320, 50)  # 3 s asked for, the clip has 2 s
    assert "width = 320" in open(out + ".toml").read()


def test_variable_frame_rate_becomes_constant_with_the_same_duration(clips, tmp_path):
    vfr = str(tmp_path / "vfr.mp4")  # 10 frames 0.1 s apart, then 30 frames at 30 fps
    video.run_ffmpeg(["-i", clips["silent"], "-vf", "setpts='if(lt(N,10),N*0.1/TB,(1+(N-10)/30)/TB)'",
                      "-fps_mode", "vfr", "-frames:v", "25", "-c:v", "libx264", "-pix_fmt", "yuv420p", vfr], "make vfr")
    src = info(vfr)
    assert src.vfr and src.frames == round(src.duration * src.fps)
    assert not info(clips["silent"]).vfr
    out = str(tmp_path / "cfr.mp4")
    assert main([vfr, out, *FAST]) == 0
    got = info(out)
    assert not got.vfr and got.fps == src.fps and got.frames == src.frames
    assert abs(got.duration - src.duration) <= 1 / float(src.fps)


def combing(frame: np.ndarray) -> float:
    """Mean |odd row - the mean of the even rows around it| of a frame's luma [H,W,3]: interlacing's combs."""
    y = frame.astype(np.float32).mean(2)
    return float(np.abs(y[1:-1:2] - (y[:-2:2] + y[2::2]) / 2).mean())


def test_interlaced_input_is_deinterlaced_as_it_is_read(clips, tmp_path):
    """A pan of 4 px a field at 50 fields a second, woven into 25 interlaced frames (top field first): found by
    the probe, read as progressive frames with a fifth of the combs or less and nearer the top field's picture,
    one frame per frame; dreamed with its count and rate into a progressive file."""
    from .test_look import photo

    fields, woven = str(tmp_path / "p50.mkv"), str(tmp_path / "i25.mp4")
    big = photo(w=400, h=88, seed=1, blur=1.5)
    writer = encode.Writer(fields, 160, 88, Fraction(50), encode.Encoding("ffv1", 0))
    for k in range(50):
        writer.write(np.ascontiguousarray(big[:, 4 * k:4 * k + 160]))
    writer.close()
    video.run_ffmpeg(["-i", fields, "-vf", "tinterlace=mode=interleave_top,setfield=tff", "-c:v", "libx264",
                      "-crf", "10", "-flags", "+ilme+ildct", "-x264-params", "tff=1", "-pix_fmt", "yuv420p", woven],
                     "make interlaced")
    src = info(woven)
    assert src.interlaced and not info(clips["silent"]).interlaced
    truth = list(video.read_frames(info(fields)))[::2]  # the top fields' pictures
    frames, combed = list(video.read_frames(src)), list(video.read_frames(replace(src, interlaced=False)))
    assert len(frames) == len(combed) == src.frames == 25
    assert np.mean([combing(f) for f in frames]) <= 0.2 * np.mean([combing(f) for f in combed])
    error = lambda got: np.mean([np.abs(g.astype(float) - t).mean() for g, t in zip(got, truth)])  # noqa: E731
    assert error(frames) <= 0.6 * error(combed)
    assert np.array_equal(next(video.read_frames(src, 20, 1)), frames[20])  # exact after a seek
    out = str(tmp_path / "p.mp4")
    assert main([woven, out, *FAST]) == 0
    got = info(out)
    assert not got.interlaced and (got.frames, got.fps) == (25, src.fps)


@pytest.mark.parametrize("tc, frames, fps, want", [
    ("10:00:00:00", 30, Fraction(25), "10:00:01:05"),
    ("23:59:59:24", 1, Fraction(25), "00:00:00:00"),  # wraps at 24 hours
    ("00:00:59;29", 1, Fraction(30000, 1001), "00:01:00;02"),  # drop-frame skips ;00 and ;01 at a minute
    ("00:09:59;29", 1, Fraction(30000, 1001), "00:10:00;00"),  # but not at every tenth
    ("01:00:59;58", 3, Fraction(60000, 1001), "01:01:00;05"),
    ("00:00:00:25", 0, Fraction(25), ""), ("00:00:00;00", 0, Fraction(25), ""), ("", 5, Fraction(25), ""),
])
def test_timecode_arithmetic(tc, frames, fps, want):
    assert rates.shift_timecode(tc, frames, fps) == want


def test_drop_frame_timecode_counts_every_frame_once():
    for fps in (Fraction(30000, 1001), Fraction(60000, 1001)):
        labels = [rates.frame_timecode(n, fps, True) for n in range(0, int(fps * 3600), 3)]
        assert [rates.timecode_frame(t, fps) for t in labels] == list(range(0, int(fps * 3600), 3))


@pytest.mark.parametrize("ext, fps, tc, start, want", [
    (".mov", "30000/1001", "01:00:59;28", "0.5", "01:01:00;15"), (".mkv", "25", "10:00:00:00", "0.4", "10:00:00:10")])
def test_the_output_starts_at_the_timecode_of_its_first_frame(tmp_path, ext, fps, tc, start, want):
    """A source with a timecode (drop-frame too) dreamed from --start: the output's timecode is its first frame's,
    so an editor can relink it in place of the source."""
    src, out = str(tmp_path / f"tc{ext}"), str(tmp_path / f"out{ext}")
    video.run_ffmpeg(["-f", "lavfi", "-i", f"testsrc2=size=160x90:rate={fps}", "-t", "1", "-timecode", tc,
                      "-c:v", "libx264", "-pix_fmt", "yuv420p", src], "make a clip with a timecode")
    assert info(src).timecode == tc
    assert main([src, out, *FAST, "--start", start]) == 0
    assert info(out).timecode == want
    assert info(out).frames == info(src).frames - round(float(start) * float(Fraction(fps)))


@pytest.mark.parametrize("animated", [[], ["--step-size", "0s:0.01, 1s:0.05"], ["--step-size", "0.01 + 0.04*rms"]])
def test_a_still_of_a_video_is_its_keyframe_as_the_video_shows_it(clips, tmp_path, animated):
    """`dreamvideo VIDEO still.png --start T` is, to the level, the first frame of the video dreamed from T,
    animated settings too (before, the still showed the keyframe's dream unsoftened, stronger and finer than
    the video would, and an animated setting ended in a traceback)."""
    import cv2

    out, still = str(tmp_path / "v.mkv"), str(tmp_path / "still.png")
    assert main([clips["sine"], out, *FAST, *animated, "--start", "0.4", "--frames", "2", "--codec", "ffv1"]) == 0
    assert main([clips["sine"], still, *FAST, *animated, "--start", "0.4"]) == 0
    first = next(video.read_frames(info(out)))
    assert np.array_equal(cv2.cvtColor(cv2.imread(still), cv2.COLOR_BGR2RGB), first)
