"""Bad inputs, settings and faults, as a new or a hostile user would give them. Each one: exit code 2, one line
that names the problem, no traceback, nothing written, no input touched, no ffmpeg process left."""
import hashlib
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from dreamvideo.cli import main
from dreamvideo.images import write_image
from dreamvideo.synth import lavfi_clip
from dreamvideo.workdir import fingerprint, identity

from .test_video import ffmpeg_children


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    d = tmp_path_factory.mktemp("media")
    m = {"clip": str(d / "clip.mp4"), "mono": str(d / "mono.mp4"), "photo": str(d / "photo.png"),
         "anim": str(d / "anim.webp"), "random": str(d / "random.mp4"), "weights": str(d / "bad.pth")}
    lavfi_clip(m["clip"], seconds=1.0)
    lavfi_clip(m["mono"], seconds=1.0)  # the sine source is mono
    y, x = np.mgrid[0:48, 0:64]
    img = (np.stack([x * 4, y * 5, (x + y) * 2], -1) % 256).astype(np.uint8)
    write_image(m["photo"], img)
    write_image(m["anim"], img)
    rng = np.random.default_rng(0)
    for key in ("random", "weights"):
        rng.integers(0, 256, 50_000, dtype=np.uint8).tofile(m[key])
    return m


def toml(tmp_path, text):
    path = tmp_path / "settings.toml"
    path.write_text(text)
    return str(path)


LONG = "+".join(["bass"] * 300)
CASES = [  # (id, args with {clip} {photo} {out} {png} {dir} ..., what the line must say)
    ("step-size-nan", "{clip} {out} --step-size nan", "finite"),
    ("octave-scale-nan", "{clip} {out} --octave-scale nan", "finite"),
    ("smooth-inf", "{clip} {out} --set dream.smooth=inf", "finite"),
    ("duration-inf", "{clip} {out} --duration inf", "finite"),
    ("duration-nan", "{clip} {out} --duration nan", "finite"),
    ("start-nan", "{clip} {out} --start nan", "finite"),
    ("zoom-seconds-inf", "zoom {out} --seconds inf", "finite"),
    ("zoom-seconds-nan", "zoom {out} --seconds nan", "finite"),
    ("zoom-rotate-inf", "zoom {out} --rotate inf", "finite"),
    ("zoom-nan", "zoom {out} --zoom nan", "finite"),
    ("zoom-inf", "zoom {out} --zoom inf", "finite"),
    ("pan-nan", "zoom {out} --pan nan,0", "finite"),
    ("toml-nan", "{clip} {out} --config {toml:[dream]\nstep_size = nan}", "finite"),
    ("seed-huge-video", "{clip} {out} --seed 10000000000000000", "4294967295"),
    ("seed-huge-image", "{photo} {png} --seed 10000000000000000", "4294967295"),
    ("lanes-superscript", "{clip} {out} --lanes ²", "whole number"),
    ("lanes-many", "{clip} {out} --lanes 1000", "whole number"),
    ("width-huge", "{photo} {png} --width 100000", "16384"),
    ("width-zero", "{clip} {out} --width 0", "at least 16"),
    ("zoom-size-huge", "zoom {out} --size 30000x30000", "16384"),
    ("tile-1", "{photo} {png} --set dream.tile=1", "at least 64"),
    ("fine-margin-half", "{clip} {out} --set video.fine_margin=0.5", "at least 1"),
    ("toml-steps-1e20", "{clip} {out} --config {toml:[dream]\nsteps = 1e20}", "not an integer"),
    ("steps-huge", "{clip} {out} --steps 100000", "1000"),
    ("audio-fps-huge", "audio {clip} --plot {png} --fps 1e6", "1000"),
    ("threads-negative", "{clip} {out} --threads -1", ">= 0"),
    ("expr-t-pow", "{clip} {out} --step-size 0.02*t**-0.5", "at frame 0"),
    ("expr-clip-arity", "{clip} {out} --step-size clip(0.05*bass,0.01)", "takes 3 arguments"),
    ("expr-min-arity", "{clip} {out} --step-size min(0.01)", "takes 2 to 8 arguments"),
    ("expr-sin-huge", "{clip} {out} --step-size sin(1e308*10)", "at frame"),
    ("expr-pow-pow", "{clip} {out} --step-size (10**64)**64", "at frame"),
    ("expr-steps-huge", "{clip} {out} --steps 1e20*t+1", "at most 1000"),
    ("expr-long", "{clip} {out} --step-size " + LONG + "+" + LONG + "+" + LONG + "+" + LONG, "too long"),
    ("expr-deep", "{clip} {out} --step-size=" + "-" * 900 + "1", "nests too deeply|cannot parse"),
    ("unknown-flag", "{clip} {out} --stepz 3", "unrecognized arguments"),
    ("keys-twice", "{clip} {out} --step-size 1s:0.01,1s:0.02", "same time twice"),
    ("keys-nan", "{clip} {out} --step-size 0s:0.01,1s:nan", "not a finite number"),
    ("weights-garbage", "{photo} {png} --weights {weights}", "cannot read weights"),
    ("image-to-video", "{anim} {out}", "still image"),
    ("random-bytes", "{random} {out}", "not a video"),
    ("codec-unknown", "{clip} {out} --codec h266", "unknown codec"),
    ("codec-for-gif", "{clip} {dir}/o.gif --codec libx264", "does not apply"),
    ("audio-missing", "{clip} {out} --audio {dir}/missing.mp3", "not found"),
    ("zoom-audio-missing", "zoom {out} --audio {dir}/missing.mp3", "not found"),
    ("output-folder", "{clip} {dir} --overwrite", "output is a folder"),
    ("output-proc", "{clip} /proc/dreamvideo-test.mp4", "cannot write to the output folder"),
    ("bad-layer", "{clip} {out} --objective nolayer", "unknown layer"),
    ("bad-preset", "{clip} {out} --preset nonexistent", "unknown preset"),
    ("existing-output", "{clip} {existing}", "output exists"),
    ("existing-plot", "audio {clip} --plot {existing_png}", "output exists"),
    ("existing-frame", "{clip} {dir}/%05d.png", "output exists"),
    ("zoom-start-is-frame", "zoom {dir}/00007.png {dir}/%05d.png --overwrite", "named like a frame"),
    ("png-not-pattern", "zoom {dir}/plain.png", "numbered pattern"),
    ("lbfgs-step-size", "{photo} {png} --set dream.optimizer=lbfgs --step-size 0.05", "dream.step_size has no effect"),
    ("lbfgs-preset-smooth", "{photo} {png} --preset bad_trip --set dream.smooth=1 --set dream.tile=512",
     "dream.smooth, dream.tile have no effect"),
    ("lbfgs-bf16", "{photo} {png} --set dream.optimizer=lbfgs --set dream.precision=bf16", "use dream.optimizer = ascent"),
    ("image-frames", "{photo} {png} --frames 10", "--frames is for videos.*still image"),
    ("image-start", "{photo} {png} --start 2", "--start is for videos.*dreamvideo zoom"),
    ("image-crf", "{photo} {png} --crf 10", "--crf is for videos"),
    ("image-reacts-to-audio", "{photo} {png} --step-size 0.01+0.04*bass", "react to audio"),
    ("still-frames", "{clip} {png} --start 0.5 --frames 10", "--frames is for videos.*one keyframe"),
    ("still-codec", "{clip} {png} --codec ffv1", "--codec is for videos.*one keyframe"),
    ("still-no-audio", "{clip} {png} --no-audio", "--no-audio is for videos"),
    ("still-preview", "{clip} {png} --preview", "--preview is for videos"),
    ("frames-and-duration", "{clip} {out} --frames 5 --duration 1", "give one of them"),
    ("crf-for-gif", "{clip} {dir}/o.gif --crf 10", "--crf does not apply to .gif files"),
    ("crf-for-ffv1", "{clip} {dir}/o.mkv --codec ffv1 --crf 10", "--crf does not apply to the ffv1 codec"),
    ("preset-for-prores", "{clip} {dir}/o.mov --codec prores --encoder-preset slow", "--encoder-preset does not apply"),
    ("preset-for-frames", "{clip} {dir}/%05d.png --encoder-preset slow", "does not apply to PNG sequences"),
]


def expand(template: str, media, tmp_path) -> list[str]:
    names = {**media, "out": str(tmp_path / "out.mp4"), "png": str(tmp_path / "out.png"), "dir": str(tmp_path),
             "existing": str(tmp_path / "old.mp4"), "existing_png": str(tmp_path / "00060.png")}
    args = []
    for word in re.split(r" (?![^{]*\})", template):
        if word.startswith("{toml:"):
            args.append(toml(tmp_path, word[6:-1]))
        else:
            args.append(word.format(**names))
    return args


def snapshot(tmp_path, media) -> dict:
    files = {p: hashlib.sha256(open(p, "rb").read()).hexdigest() for p in media.values()}
    files.update({str(p): p.stat().st_mtime_ns for p in tmp_path.rglob("*")})
    return files


@pytest.mark.parametrize("case,template,says", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_exit_2_nothing_written(case, template, says, media, tmp_path, capsys):
    for name in ("old.mp4", "00060.png", "00007.png"):  # files the user already has
        (tmp_path / name).write_bytes(b"keep me")
    args = expand(template, media, tmp_path)
    before = snapshot(tmp_path, media)
    assert main(args) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip() and "%|" not in line]
    assert len(lines) == 1 and lines[0].startswith("dreamvideo: error: "), err
    assert re.search(says, lines[0]), lines[0]
    assert len(lines[0]) < 400 and "Traceback" not in err
    assert snapshot(tmp_path, media) == before  # nothing written, nothing touched, no work folder left
    assert ffmpeg_children() == []


GOOD = [  # (id, args, the files that must exist afterwards)
    ("codec-alias-h265", "{clip} {dir}/h265.mp4 --codec h265 --frames 3", ["h265.mp4"]),
    ("webm-from-mono", "{mono} {dir}/mono.webm --frames 3", ["mono.webm"]),
    ("dash-name", "{clip} --frames 3 -- -dash.mp4", ["-dash.mp4"]),
    ("toml-lanes-int", "{clip} {out} --frames 3 --config {toml:[video]\nlanes = 2}", ["out.mp4"]),
    ("keys-out-of-order", "{clip} {out} --frames 3 --step-size 2s:0.01,1s:0.05,0s:0.02", ["out.mp4"]),
    ("still-from-video", "{clip} {png} --start 0.5", ["out.png"]),
    ("crf-and-preset-for-h264", "{clip} {out} --frames 3 --crf 10 --encoder-preset fast", ["out.mp4"]),
    ("crf-for-vp9", "{clip} {dir}/o.webm --frames 3 --crf 30", ["o.webm"]),
]


@pytest.mark.parametrize("case,template,made", GOOD, ids=[c[0] for c in GOOD])
def test_choices_that_work(case, template, made, media, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = expand(template, media, tmp_path)
    at = args.index("--") if "--" in args else len(args)
    assert main(args[:at] + ["--octaves", "1", "--steps", "1"] + args[at:]) == 0
    for name in made:
        assert os.path.getsize(tmp_path / name) > 0


def test_keyframes_out_of_order_are_sorted():
    from dreamvideo.schedule import parse

    k = parse("2s:0.01, 1s:0.05, 0s:0.02")
    assert [k.value(t, 0) for t in (0.0, 1.0, 2.0)] == [0.02, 0.05, 0.01]


def test_identity_covers_the_contents_of_every_file(tmp_path):
    song = tmp_path / "song.m4a"
    song.write_bytes(b"a" * 1000)
    before = identity([str(song)], "settings")
    stat = os.stat(song)
    song.write_bytes(b"b" * 1000)  # replaced: same size, same time
    os.utime(song, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert identity([str(song)], "settings") != before
    assert fingerprint(str(song)) == fingerprint(str(song))


def test_sequence_with_overwrite_removes_stale_frames(media, tmp_path):
    (tmp_path / "00060.png").write_bytes(b"stale")
    assert main([media["clip"], str(tmp_path / "%05d.png"), "--frames", "3", "--octaves", "1", "--steps", "1",
                 "--overwrite"]) == 0
    assert sorted(p.name for p in tmp_path.glob("0*.png")) == ["00000.png", "00001.png", "00002.png"]
    assert (tmp_path / "dreamvideo.toml").exists()


def test_second_run_on_the_same_output_is_refused(media, tmp_path):
    out = str(tmp_path / "c.mkv")
    slow = [sys.executable, "-m", "dreamvideo", media["clip"], out, "--codec", "ffv1", "--set", "video.chunk=2",
            "--set", "video.light_steps=100", "--steps", "30"]
    first = subprocess.Popen(slow, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        lock = out + ".dreamvideo-work/manifest.json"
        for _ in range(600):
            if os.path.exists(lock) or first.poll() is not None:
                break
            subprocess.run(["sleep", "0.05"])
        second = subprocess.run(slow[:-1] + ["1"], capture_output=True, text=True)
        assert second.returncode == 2 and "another dreamvideo run is writing" in second.stderr
        assert second.stderr.count("\n") == 1
    finally:
        first.kill()
        first.wait()


def _mount(path, options):
    os.makedirs(path, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True)
    if r.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root)")


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small disk needs root")
def test_full_disk_is_one_line_and_keeps_finished_chunks(media, tmp_path, capsys):
    disk = tmp_path / "disk"
    _mount(disk, "size=400k")
    try:
        out = str(disk / "full.mkv")
        assert main([media["clip"], out, "--codec", "ffv1", "--octaves", "1", "--steps", "1", "--set",
                     "video.chunk=5"]) == 2
        err = [line for line in capsys.readouterr().err.splitlines() if line.strip() and "%|" not in line]
        assert len(err) == 1 and "No space left on device" in err[0], err
        assert not os.path.exists(out)
        assert not [p for p in os.listdir(disk) if ".part" in p]  # no half-written output
        work = out + ".dreamvideo-work"
        parts = [p for p in os.listdir(work) if p.endswith(".mkv")] if os.path.isdir(work) else []
        assert all(".part" not in p for p in parts)
        assert ffmpeg_children() == []
    finally:
        subprocess.run(["umount", "-l", str(disk)])


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a read-only disk needs root")
def test_read_only_folder_is_refused_before_any_work(media, tmp_path, capsys):
    disk = tmp_path / "ro"
    _mount(disk, "size=100k,ro")
    try:
        assert main([media["clip"], str(disk / "x.mp4")]) == 2
        assert "cannot write to the output folder" in capsys.readouterr().err
    finally:
        subprocess.run(["umount", "-l", str(disk)])


def test_damaged_input_is_reported_not_passed_off_as_clean(tmp_path, capsys):
    src = str(tmp_path / "ok.mp4")
    lavfi_clip(src, size=(160, 90), seconds=3.0, audio=None)
    data = bytearray(open(src, "rb").read())
    rng = np.random.default_rng(1)
    for p in rng.integers(len(data) // 3, 2 * len(data) // 3, 200):
        data[p] ^= 0xFF
    bad = str(tmp_path / "flipped.mp4")
    open(bad, "wb").write(bytes(data))
    assert main([bad, str(tmp_path / "o.mp4"), "--octaves", "1", "--steps", "1"]) == 0
    assert re.search(r"warning: .*damaged: ffmpeg reported \d+ decoding errors", capsys.readouterr().err)


def test_formats_without_sound_say_so(media, tmp_path, capsys):
    assert main([media["clip"], str(tmp_path / "o.gif"), "--frames", "2", "--octaves", "1", "--steps", "1"]) == 0
    assert "holds no sound" in capsys.readouterr().err


def test_help_shows_defaults_and_presets(capsys):
    assert main(["video", "-h"]) == 0
    text = capsys.readouterr().out
    assert "(default: 10)" in text and "music_video" in text
