import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from dreamvideo.cli import main
from dreamvideo.images import read_image, write_image

FAST = ["--octaves", "2", "--steps", "2", "--width", "96"]


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "dreamvideo", *args], capture_output=True, text=True, timeout=120)


def test_help_is_instant_and_does_not_import_torch():
    code = "import sys; from dreamvideo import cli; cli.build_parser(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "False"
    assert run_cli("--help").returncode == 0


def test_image_end_to_end(photo_path, tmp_path):
    out = str(tmp_path / "dream.png")
    assert main(["image", photo_path, out, *FAST, "--seed", "3"]) == 0
    dreamed, src = read_image(out), read_image(photo_path)
    assert dreamed.shape == (64, 96, 3) and src.shape == (300, 451, 3)
    from dreamvideo.images import resize_to_width

    assert np.abs(dreamed.astype(float) - resize_to_width(src, 96)).mean() > 5  # visibly dreamed
    settings = open(out + ".toml").read()
    assert "seed = 3" in settings and 'name = "efficientnet_lite0"' in settings
    # The saved settings reproduce the result exactly.
    again = str(tmp_path / "again.png")
    assert main(["image", photo_path, again, "--config", out + ".toml"]) == 0
    assert np.array_equal(read_image(again), dreamed)


def test_default_command_picks_image(photo_path, tmp_path):
    out = str(tmp_path / "d.jpg")
    assert main([photo_path, out, *FAST]) == 0 and os.path.exists(out)


def test_layers_and_models_commands(capsys):
    assert main(["models"]) == 0
    text = capsys.readouterr().out
    assert "efficientnet_lite0" in text and "yes" in text
    assert main(["layers", "efficientnet_lite0", "--size", "224"]) == 0
    text = capsys.readouterr().out
    assert "blocks.15" in text and "320x7x7" in text and "stem" in text


@pytest.mark.parametrize("case,msg", [
    ("missing", "input not found"),
    ("unreadable", "cannot decode"),
    ("no_dir", "output folder does not exist"),
    ("same", "would replace the input"),
    ("exists", "output exists"),
    ("bad_ext", "the output must be an image"),
    ("model", "unknown model 'nope'"),
    ("layer", "unknown layer 'blocks.99'"),
    ("setting", "unknown setting"),
    ("no_weights", "--weights PATH"),
    ("video", "is not a video"),
])
def test_user_errors_are_one_line_exit_2_nothing_written(case, msg, photo_path, tmp_path, monkeypatch, capsys):
    out = str(tmp_path / "out.png")
    args = {
        "missing": ["image", str(tmp_path / "none.jpg"), out],
        "unreadable": ["image", str(tmp_path / "text.jpg"), out],
        "no_dir": ["image", photo_path, str(tmp_path / "nodir" / "o.png")],
        "same": ["image", photo_path, photo_path, "--overwrite"],
        "exists": ["image", photo_path, str(tmp_path / "exists.png")],
        "bad_ext": ["image", photo_path, str(tmp_path / "o.xyz")],
        "model": ["image", photo_path, out, "--model", "nope"],
        "layer": ["image", photo_path, out, "--objective", "blocks.99"],
        "setting": ["image", photo_path, out, "--set", "dream.nope=1"],
        "no_weights": ["image", photo_path, out, "--model", "googlenet"],
        "video": [str(tmp_path / "clip.mp4"), str(tmp_path / "o.mp4")],
    }[case]
    (tmp_path / "text.jpg").write_text("not an image")
    (tmp_path / "clip.mp4").write_bytes(b"\0" * 10)
    write_image(str(tmp_path / "exists.png"), np.zeros((4, 4, 3), np.uint8))
    before = sorted(os.listdir(tmp_path))
    mtime = os.path.getmtime(photo_path)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))  # no cached weights, no download
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", lambda *a, **k: (_ for _ in ()).throw(OSError("offline")))
    assert main(args) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("dreamvideo: error:")]
    assert len(errors) == 1 and msg in errors[0]
    assert sorted(os.listdir(tmp_path)) == before and os.path.getmtime(photo_path) == mtime


def test_error_from_a_real_process_is_one_line_without_traceback(tmp_path):
    r = run_cli("image", str(tmp_path / "none.jpg"), str(tmp_path / "o.png"))
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [f"dreamvideo: error: input not found: {tmp_path / 'none.jpg'}"]


def test_guided_dream_and_preset_through_cli(photo_path, tmp_path):
    out = str(tmp_path / "guided.png")
    assert main(["image", photo_path, out, "--preset", "preview", "--width", "80",
                 "--set", f"objective.guide={photo_path}", "--objective", "blocks.6"]) == 0
    assert read_image(out).shape == (53, 80, 3)
    assert 'guide = "' in open(out + ".toml").read()
    plain = str(tmp_path / "plain.png")  # the guide changes the result
    assert main(["image", photo_path, plain, "--preset", "preview", "--width", "80", "--objective", "blocks.6"]) == 0
    assert np.abs(read_image(out).astype(int) - read_image(plain)).mean() > 1


def test_threads_setting_is_honoured(monkeypatch):
    import torch

    from dreamvideo import config, runner

    before = torch.get_num_threads()
    try:
        runner.apply_threads(config.load("default", sets=["run.threads=1"]))
        assert torch.get_num_threads() == 1
        monkeypatch.setattr(runner, "idle_cores", lambda: 0.2)  # every core busy with other programs
        runner.apply_threads(config.load("default"))
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_crf_changes_the_encoding(tmp_path):
    from dreamvideo.synth import lavfi_clip

    src = str(tmp_path / "in.mp4")
    lavfi_clip(src, seconds=0.6, audio=None)
    sizes = []
    for crf in ("10", "45"):
        out = str(tmp_path / f"crf{crf}.mp4")
        assert main([src, out, "--steps", "0", "--crf", crf, "--encoder-preset", "ultrafast"]) == 0
        sizes.append(os.path.getsize(out))
    assert sizes[1] < sizes[0] / 2
