"""Zoom mode: timing, geometry, per-second rates, seamless loops, outputs, errors."""
import os
from fractions import Fraction

import numpy as np
import pytest

from dreamvideo import config, metrics, video
from dreamvideo.zoomloop import zoom_step_flow
from dreamvideo.cli import main
from dreamvideo.images import write_image

STILL = ["--steps", "0", "--set", "zoom.steps=0", "--set", "zoom.color=0"]  # geometry only, no dreaming


def frames_of(path):
    i = video.count_frames(video.probe(path))
    return i, list(video.read_frames(i, 0, i.frames))


@pytest.fixture
def target(tmp_path):
    """A 97x97 image of rings around its centre pixel (48, 48)."""
    y, x = np.mgrid[0:97, 0:97] - 48.0
    r = np.sqrt(x * x + y * y)
    img = np.stack([(np.sin(r / 3) * 120 + 128), (x + 48) * 2.5, (y + 48) * 2.5], -1).clip(0, 255).astype(np.uint8)
    path = str(tmp_path / "rings.png")
    write_image(path, img)
    return path


def test_count_and_exact_fps(tmp_path):
    out = str(tmp_path / "z.mp4")
    assert main(["zoom", out, "--size", "64x48", "--frames", "7", "--fps", "30000/1001", "--octaves", "1",
                 "--steps", "1", "--set", "zoom.steps=1"]) == 0
    i, frames = frames_of(out)
    assert (i.frames, i.fps, i.width, i.height) == (7, Fraction(30000, 1001), 64, 48)
    assert "zoom = 1.2" in open(out + ".toml").read()
    assert main(["zoom", str(tmp_path / "s.mp4"), "--size", "64x48", "--seconds", "0.5", "--fps", "24", *STILL]) == 0
    assert video.count_frames(video.probe(str(tmp_path / "s.mp4"))).frames == 12


def test_centre_stays_fixed_under_pure_zoom(target, tmp_path):
    f = zoom_step_flow(97, 97, config.ZoomConfig(zoom=2.0), 4)
    assert float(f[0, :, 48, 48].abs().max()) < 1e-5  # no motion at the centre pixel
    assert float(f[0, 0, 48, 96]) < -5  # the edge samples from further in: magnified
    out = str(tmp_path / "c.mkv")
    assert main(["zoom", target, out, "--frames", "12", "--fps", "12", "--zoom", "2", "--codec", "ffv1", *STILL]) == 0
    _, frames = frames_of(out)
    assert np.abs(frames[-1][48, 48].astype(int) - frames[0][48, 48]).max() <= 1  # the centre pixel stays
    assert np.abs(frames[-1][:, :16].astype(float) - frames[0][:, :16]).mean() > 20  # the edges moved


def test_rates_are_per_second_at_any_fps(target, tmp_path):
    half_second = {}
    for fps in (30, 60):
        out = str(tmp_path / f"{fps}.mkv")
        assert main(["zoom", target, out, "--seconds", "1", "--fps", str(fps), "--zoom", "3", "--rotate", "30",
                     "--codec", "ffv1", *STILL]) == 0
        _, frames = frames_of(out)
        assert len(frames) == fps
        half_second[fps] = frames[fps // 2].astype(float)
    same_time = np.abs(half_second[30] - half_second[60]).mean()
    _, f30 = frames_of(str(tmp_path / "30.mkv"))
    other_time = np.abs(f30[8].astype(float) - half_second[30]).mean()
    assert same_time < 0.25 * other_time  # the same moment looks the same at 30 and 60 fps


def test_loop_is_seamless(target, tmp_path):
    out = str(tmp_path / "loop.mkv")
    args = ["zoom", target, out, "--frames", "24", "--fps", "12", "--zoom", "1.5", "--rotate", "10", "--loop",
            "--codec", "ffv1", "--octaves", "1", "--steps", "2", "--set", "zoom.octaves=1", "--set", "zoom.steps=2"]
    assert main(args) == 0
    i, frames = frames_of(out)
    assert i.frames == 24
    zcfg = config.load("default", sets=["zoom.zoom=1.5", "zoom.rotate=10"]).zoom
    seam, typical = metrics.loop_seam(frames, zoom_step_flow(97, 97, zcfg, 12))
    assert seam <= 1.5 * typical, (seam, typical)
    # Without --loop the same animation jumps at the seam.
    plain = str(tmp_path / "plain.mkv")
    assert main([a for a in args if a != "--loop"][:2] + [plain] + [a for a in args[3:] if a != "--loop"]) == 0
    seam_plain, typical_plain = metrics.loop_seam(frames_of(plain)[1], zoom_step_flow(97, 97, zcfg, 12))
    assert seam_plain > 1.5 * typical_plain


def test_gif_and_webp_loop_forever(target, tmp_path):
    for name in ("z.gif", "z.webp"):
        assert main(["zoom", target, str(tmp_path / name), "--frames", "6", "--fps", "10", *STILL]) == 0
    assert b"NETSCAPE2.0" in (tmp_path / "z.gif").read_bytes()
    webp = (tmp_path / "z.webp").read_bytes()
    assert webp[webp.index(b"ANIM") + 12: webp.index(b"ANIM") + 14] == b"\0\0"
    assert main(["zoom", target, str(tmp_path / "f_%03d.png"), "--frames", "5", *STILL]) == 0
    assert len(list(tmp_path.glob("f_*.png"))) == 5


@pytest.mark.parametrize("args,msg", [
    (["--zoom", "0"], "zoom.zoom"), (["--zoom", "-1"], "zoom.zoom"), (["--fps", "0"], "bad fps"),
    (["--fps", "x"], "bad fps"), (["--size", "8x8"], "bad size"), (["--pan", "3"], "bad pan"),
])
def test_bad_zoom_arguments(args, msg, tmp_path, capsys):
    assert main(["zoom", str(tmp_path / "o.mp4"), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and msg in err[0]
    assert os.listdir(tmp_path) == []


def test_unreadable_start_image(tmp_path, capsys):
    bad = tmp_path / "bad.jpg"
    bad.write_text("no")
    assert main(["zoom", str(bad), str(tmp_path / "o.mp4")]) == 2
    assert "cannot decode" in capsys.readouterr().err
    assert main(["zoom", str(tmp_path / "missing.jpg"), str(tmp_path / "o.mp4")]) == 2
    assert sorted(os.listdir(tmp_path)) == ["bad.jpg"]


def test_same_seed_same_animation(tmp_path):
    runs = {}
    for name, seed in (("a", "1"), ("b", "1"), ("c", "2")):
        out = str(tmp_path / f"{name}.mkv")
        assert main(["zoom", out, "--size", "48x48", "--frames", "4", "--seed", seed, "--codec", "ffv1",
                     "--octaves", "1", "--steps", "2", "--rotate", "20", "--center", "20,30"]) == 0
        runs[name] = frames_of(out)[1]
    assert all(np.array_equal(x, y) for x, y in zip(runs["a"], runs["b"]))
    assert not np.array_equal(runs["a"][-1], runs["c"][-1])


def test_progress_counts_every_rendered_frame_of_a_loop(tmp_path):
    from dreamvideo.zoom import make_zoom

    cfg = config.load("default", sets=["zoom.frames=12", "zoom.loop=true", "zoom.size=48x48", "dream.octaves=1",
                                       "dream.steps=1", "zoom.steps=1", "zoom.octaves=1"])
    totals, done = [], []
    make_zoom(None, str(tmp_path / "l.mkv"), cfg, lambda total: totals.append(total) or done.append)
    assert totals == [12 + 4] and sum(done) == totals[0]  # the loop's crossfade frames count too
