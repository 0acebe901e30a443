"""Editors' transitions and camera moves that change the whole picture without a cut (tiny network, CPU): fades to
and from black, dissolves, whip pans and focus pulls. Each test pins one rule: a black frame shows no dream, a
keyframe dreamed in the dark, on a blurred picture or on the other picture of a dissolve is dreamed again
(crossfaded), and none of that fires on motion, noise or a change of light."""
from fractions import Fraction

import cv2
import numpy as np
import pytest
import skimage.data
import torch

from dreamvideo import lanes, synth, tracking
from dreamvideo.animate import VideoDreamer, prepare_flows
from dreamvideo.carry import FrameIn
from dreamvideo.config import load

from .test_look import H, W, detail, dreamer, pan, photo


def run(d, frames, cuts=()):
    """Dream frames (shots start at 0 and at `cuts`); returns float outputs [3,H,W] in [0,1], the carries and,
    per frame, whether it got a keyframe."""
    vd = VideoDreamer(d, load("default").video)
    carry, prev, outs, carries, keyed = None, None, [], [], []
    for i, f in enumerate(frames):
        cut = i == 0 or i in cuts
        b, fw = prepare_flows(None if cut else prev, f, "dis", forward=False)
        (y,), (carry,) = vd.step([FrameIn(i, f, b, fw, cut)], [carry])
        outs.append(torch.from_numpy(np.asarray(y)).permute(2, 0, 1).float() / 255)
        carries.append(carry)
        keyed.append(vd.keyed)
        prev = f
    return outs, carries, keyed


def still(seed, n):
    """n frames of a locked-off camera on a photo, with sensor noise (uint8 [H,W,3])."""
    return synth.grain([photo(seed=seed)[20:20 + H, :W]] * n, seed=seed)


def corr(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / (a.norm() * b.norm() + 1e-9))


def tensor(f: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(f).permute(2, 0, 1)[None].float() / 255


def crossfaded(outs, frames, carries, i) -> bool:
    """Whether frame i's output, re-keyed, changed from frame i-1's by at most half as much as its new keyframe's
    dream (as shown) would have."""
    before, now = detail(outs[i - 1], frames[i - 1]), detail(outs[i], frames[i])
    fresh = carries[i].key_detail[0] * carries[i].key_share.view(())
    return float((now - before).abs().mean()) <= 0.5 * float((fresh - before).abs().mean())


def test_the_share_of_the_dream_shown_follows_the_darkest_frames_light():
    x = torch.zeros(1, 3, 32, 32)
    assert float(tracking.shown_share(x)) == 0
    x[..., :8, :8] = 2 * tracking.DARK  # one bright cell is enough: dark footage with a light keeps its dream
    assert float(tracking.shown_share(x)) == 1
    assert abs(float(tracking.shown_share(x * 0.25)) - 0.5) < 1e-5


def test_a_black_frame_stays_black():
    black = [np.zeros((H, W, 3), np.uint8)] * 3
    outs, _, _ = run(dreamer(), black)
    assert all(float(o.abs().max()) == 0 for o in outs)


def test_letterbox_and_pillarbox_bars_stay_black():
    """Bars (coded black with a little noise) get no dream; the picture between them does."""
    rng = np.random.default_rng(0)
    inner = [f[8:H - 8, 12:W - 12] for f in pan(6, speed=1.0)]
    frames = [np.pad(f, ((8, 8), (12, 12), (0, 0))) + rng.integers(0, 4, (H, W, 3)).astype(np.uint8) for f in inner]
    outs, _, _ = run(dreamer(), frames)
    for o, f in zip(outs, frames):
        change = detail(o, f).abs()
        assert float(change[:, :8].max()) <= 1 / 255 and float(change[:, :, :12].max()) <= 1 / 255
        assert float(change[:, 8:H - 8, 12:W - 12].mean()) > 0.01


def test_only_dark_runs_from_both_opposite_edges_are_bars():
    """Bars come in pairs: dark runs at the top and the bottom (one may be shorter: burned-in subtitles in the
    bottom bar), or at the left and the right. A dark stripe inside the picture, or a dark run from one edge
    alone (a night sky), is picture."""
    x = torch.full((1, 3, 40, 60), 0.5)
    x[..., :5, :] = 0.02  # a bar at the top
    x[..., 37:, :] = 0.02  # and a shorter one at the bottom
    x[..., 20:25, :] = 0.0  # a black stripe inside the picture is picture
    x[..., :, -4:] = 0.02  # a dark run at the right alone
    x[..., 38, 30] = 0.5  # a bright pixel in the bottom bar's second row: the bar is the row below it
    p = tracking.picture(x)[0, 0]
    assert float(p[:5].max()) == 0 and float(p[-1:].max()) == 0
    assert float(p[5:-1].min()) == 1
    sky = torch.full((1, 3, 40, 60), 0.5)
    sky[..., :12, :] = 0.01  # a night sky, black from edge to edge, above a lit street
    assert float(tracking.picture(sky).min()) == 1
    sky[..., :, :3] = sky[..., :, -3:] = 0.01  # pillarbox bars beside it are still bars
    p = tracking.picture(sky)[0, 0]
    assert float(p[:, :3].max()) == 0 and float(p[:, -3:].max()) == 0 and float(p[:, 3:-3].min()) == 1


def test_a_shots_dark_runs_decide_where_its_bars_are():
    """lanes.dark_runs on thumbnails: rows that are mostly black (a subtitle in the bottom bar leaves its rows
    so), then rows that are black. lanes.shot_bars: bars surely reach as far as the shortest mostly black run
    of the shot's frames that have one and are not black, but no further than the longest black run from
    either edge of the pair, and no further than the opposite one's unless within a row of it (a letterbox is
    centred); they may reach one thumbnail row further."""
    from dreamvideo import lanes

    thumb = np.full((36, 64, 3), 120, np.uint8)
    thumb[:5], thumb[-5:] = 3, 3  # letterbox bars
    thumb[-3, 24:40] = 235  # a subtitle's letters in the bottom bar
    thumb[:, :2] = 0  # black in the two left columns only: picture rows are not black
    assert lanes.dark_runs(thumb) == (5, 5, 2, 0, 5, 2, 2, 0)
    assert lanes.dark_runs(np.zeros((36, 64, 3), np.uint8)) == (36, 36, 64, 64, 36, 36, 64, 64)
    pillarboxed = np.zeros((36, 64, 3), np.uint8)
    pillarboxed[:, 22:42] = 120  # a portrait picture: every row is mostly bar, and none is black between them
    assert lanes.dark_runs(pillarboxed) == (0, 0, 22, 22, 0, 0, 22, 22)
    size = (64, 36)
    row, col = (lambda k: k / 36), 1 / 64  # noqa: E731 k thumbnail rows as a share of the height
    night = [(12, 9, 0, 0, 12, 9, 0, 0), (7, 15, 0, 0, 7, 15, 0, 0), (36, 36, 64, 64) * 2]  # black moving down
    assert lanes.shot_bars(night, size) == (row(7), row(7), 0, 0, row(8), row(8), col, col)  # centred
    locked = [(12, 4, 0, 0, 12, 4, 0, 0)] * 3  # a locked-off night shot: black sky, a darker foreground
    assert lanes.shot_bars(locked, size)[:2] == (row(4), row(4))
    off = [(5, 6, 0, 0, 5, 6, 0, 0)] * 3  # a letterbox a row off centre
    assert lanes.shot_bars(off, size)[:2] == (row(5), row(6))
    flashed = [(5, 5, 0, 0) * 2, (0, 0, 0, 0) * 2, (6, 5, 0, 0) * 2]  # letterboxed, flashed to white once
    assert lanes.shot_bars(flashed, size)[:2] == (row(5), row(5))
    subtitled = [(5, 5, 0, 0, 5, 2, 0, 0)] * 3  # subtitles on every frame: the top bar tells the height
    assert lanes.shot_bars(subtitled, size)[:2] == (row(5), row(5))
    lamps = [(10, 10, 0, 0, 3, 2, 0, 0), (12, 11, 0, 0, 1, 2, 0, 0)]  # a dark ceiling and floor never black
    assert lanes.shot_bars(lamps, size)[:2] == (row(3), row(3))
    scan = lanes.Scan([2], [0.5] * 4, [*night[:2], (3, 3, 0, 0) * 2, (4, 3, 0, 0) * 2], size)
    assert scan.bars() == {0: lanes.shot_bars(night[:2], size), 2: (row(3), row(3), 0, 0, row(4), row(4), col, col)}
    assert lanes.bars_at(scan.bars(), 1)[0] == row(7) and lanes.bars_at(scan.bars(), 3)[0] == row(3)
    assert lanes.bars_at({}, 5) == lanes.NO_BARS


def test_bars_go_as_far_as_their_shot_lets():
    """As far as its shot's bars surely reach, a mostly black row is a bar's (a subtitle's letters stay
    undreamed); on to where they may reach, only a black one; no further."""
    x = torch.full((2, 3, 40, 60), 0.5)
    x[..., :12, :] = x[..., -12:, :] = 0.01  # a night sky above a dark street, black at both edges
    x[..., -2, 20:40] = 0.9  # letters in the bottom's second row
    bars = torch.tensor([[5 / 40, 3 / 40, 0, 0, 7 / 40, 4 / 40, 1, 1], list(lanes.NO_BARS)])
    p = tracking.picture(x, bars)[:, 0]
    assert float(p[0, :7].max()) == 0 and float(p[0, -4:].max()) == 0 and float(p[0, 7:-4].min()) == 1
    assert float(p[1, :12].max()) == 0 and float(p[1, -1:].max()) == 0  # each frame's own: black rows only
    assert float(p[1, 12:-1].min()) == 1
    assert torch.equal(tracking.picture(x[1:]), p[1:, None])
    x[..., 3, :] = 0.2  # a row of the sure bar that is not mostly black ends it there
    assert float(tracking.picture(x, bars)[0, 0, 3:-4].min()) == 1
    portrait = torch.zeros(1, 3, 40, 60)
    portrait[..., 20:40] = 0.5  # pillarboxed: each row is mostly bar, but not between the bars
    p = tracking.picture(portrait, torch.tensor([[1.0, 1.0, 20 / 60, 20 / 60, 1, 1, 1, 1]]))[0, 0]
    assert float(p[:, :20].max()) == 0 and float(p[:, 40:].max()) == 0 and float(p[:, 20:40].min()) == 1


def test_a_night_shots_black_edges_hold_still_through_the_command_line(tmp_path):
    """The real scan, reader and writer: a night shot black at its top and bottom, down (up) to rows that move
    with the picture from frame to frame. The undreamed rows at each edge stay within one thumbnail row of the
    shot's shortest black run, so the dream's edge holds still and the dark picture beyond it is dreamed."""
    from dreamvideo import encode, video
    from dreamvideo.cli import main

    src, out = str(tmp_path / "night.mkv"), str(tmp_path / "out.mkv")
    w, h, n = 160, 90, 20
    top = [8 + round(6 * (1 + np.sin(k / 2))) for k in range(n)]  # 8..20 rows
    bottom = [8 + round(6 * (1 + np.cos(k / 2))) for k in range(n)]
    big = photo(w=w + 60, h=h, seed=3)
    writer = encode.Writer(src, w, h, Fraction(25), encode.Encoding("ffv1", 0))
    for k in range(n):
        f = big[:, 2 * k:2 * k + w].copy()
        f[:top[k]], f[h - bottom[k]:] = 2, 2
        writer.write(f)
    writer.close()
    assert main([src, out, "--octaves", "2", "--steps", "2", "--codec", "ffv1"]) == 0
    read = lambda p: list(video.read_frames(video.count_frames(video.probe(p)), 0, n))  # noqa: E731
    still = [(np.abs(o.astype(int) - i).max((1, 2)) <= 2) for i, o in zip(read(src), read(out))]
    lead = lambda rows: len(rows) if rows.all() else int(np.argmin(rows))  # noqa: E731
    thumb_row = h / 36  # 64 px wide thumbnails of 160x90
    for k, rows in enumerate(still):
        assert min(top) <= lead(rows) <= min(top) + 2 * thumb_row, k
        assert min(bottom) <= lead(rows[::-1]) <= min(bottom) + 2 * thumb_row, k


def test_a_locked_off_night_shot_is_dreamed_to_its_shorter_black_edge(tmp_path):
    """The real scan, reader and writer: a locked-off shot black over its top 30 rows (a night sky) and its
    bottom 8. A letterbox is centred, so only 8 rows (within a thumbnail row) at each edge stay as they are,
    and the black sky beyond them is dreamed (before, all 30 rows stayed black: taken for a bar)."""
    from dreamvideo import encode, video
    from dreamvideo.cli import main

    src, out = str(tmp_path / "locked.mkv"), str(tmp_path / "out.mkv")
    w, h, n = 160, 90, 6
    f = photo(w=w, h=h, seed=4)
    f[:30], f[h - 8:] = 2, 2
    writer = encode.Writer(src, w, h, Fraction(25), encode.Encoding("ffv1", 0))
    for _ in range(n):
        writer.write(f)
    writer.close()
    assert main([src, out, "--octaves", "2", "--steps", "2", "--codec", "ffv1"]) == 0
    o = next(video.read_frames(video.count_frames(video.probe(out))))
    still = np.abs(o.astype(int) - f).max((1, 2)) <= 2
    assert still[:8].all() and still[-8:].all() and not still[:8 + 2 * 3].all() and not still[12:30].all()


def subtitled(path: str, w: int = 160, h: int = 90, n: int = 16, bar: int = 14) -> None:
    """A letterboxed H.264 clip panning over a photo, with subtitles in its bottom bar on frames 4-11."""
    from dreamvideo import encode

    big = photo(w=w + 40, h=h - 2 * bar, seed=4)
    writer = encode.Writer(path, w, h, Fraction(25), encode.Encoding("libx264", 10))
    for k in range(n):
        f = np.zeros((h, w, 3), np.uint8)
        f[bar:h - bar] = big[:, 2 * k:2 * k + w]
        if 4 <= k < 12:
            cv2.putText(f, "faces in the smoke", (20, h - 4), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (235, 235, 235))
        writer.write(f)
    writer.close()


def test_subtitles_in_a_letterbox_bar_stay_as_they_are_through_the_command_line(tmp_path):
    """The real scan, reader and writer: a letterboxed H.264 clip with subtitles in its bottom bar on some
    frames. The bars and the letters stay as they are (within 2 levels) on every frame; the picture is dreamed
    (before, the bottom bar was dreamed around the letters: green swirls coming and going with the text)."""
    from dreamvideo import video
    from dreamvideo.cli import main

    src, out = str(tmp_path / "subs.mp4"), str(tmp_path / "out.mkv")
    h, n, bar = 90, 16, 14
    subtitled(src)
    assert main([src, out, "--octaves", "2", "--steps", "2", "--codec", "ffv1"]) == 0
    read = lambda p: list(video.read_frames(video.count_frames(video.probe(p)), 0, n))  # noqa: E731
    for k, (i, o) in enumerate(zip(read(src), read(out))):
        change = np.abs(o.astype(int) - i)
        assert change[:bar - 2].max() <= 2 and change[h - bar + 2:].max() <= 2, k  # 2 rows of 4:2:0 colour
        assert change[bar + 2:h - bar - 2].mean() > 2, k


def faded_in(path: str) -> None:
    """A 1 s 160x90 clip letterboxed to 2.67:1, faded up from black over its first 10 frames (H.264)."""
    synth.lavfi_clip(path, size=(160, 60), seconds=1.0, audio=None,
                     video_args=("-vf", "fade=in:0:10,pad=160:90:0:15", "-c:v", "libx264", "-pix_fmt", "yuv420p"))


def test_a_still_shows_its_frame_through_its_shots_bars_and_fade(tmp_path):
    """`dreamvideo VIDEO still.png --start T` on a subtitled letterbox frame and in a fade from black: the render's
    frame at T to the level, letters and bars left as they are, the fade's share of the dream shown (before, the
    still found bars in its own frame alone, dreamed the bar around the letters, and showed the whole dream in
    the fade)."""
    from dreamvideo import video
    from dreamvideo.cli import main

    fast = ["--octaves", "2", "--steps", "2"]
    for make, start in ((subtitled, "0.24"), (faded_in, "0.04"), (faded_in, "0.2")):  # 0.2: half lit
        src, out, png = (str(tmp_path / f"{make.__name__}{start}.{e}") for e in ("mp4", "mkv", "png"))
        make(src)
        assert main([src, out, *fast, "--start", start, "--codec", "ffv1"]) == 0  # the still: a render to the end
        assert main([src, png, *fast, "--start", start]) == 0
        frame = next(video.read_frames(video.count_frames(video.probe(out))))
        assert np.array_equal(cv2.cvtColor(cv2.imread(png), cv2.COLOR_BGR2RGB), frame), make.__name__
        shown = next(video.read_frames(video.count_frames(video.probe(src)), round(float(start) * 25), 1))
        bottom = np.abs(frame.astype(int) - shown)[-12:]
        assert bottom.max() <= 2, make.__name__  # the bar, with the subtitle's letters


def test_a_fade_from_black_dreams_the_picture_not_the_dark():
    """Faded up from black over 10 frames: the keyframe is dreamed again as the light comes up, and the last one
    was dreamed on a picture showing at least half its dream (the dissolve test pins the crossfade)."""
    frames = synth.fade(pan(16, speed=1.0), fade_in=10, fade_out=0)
    _, carries, keyed = run(dreamer(), frames)
    again = [i for i, k in enumerate(keyed) if k and i > 0]
    assert len(again) >= 2
    assert float(carries[-1].key_share) >= 0.5


def test_a_dream_of_a_blurred_picture_is_dreamed_again_once_it_is_sharp():
    """A whip pan or focus pull: the shot's keyframe is blurred; once the tracked picture shows SHARPER times its
    structure, the keyframe is dreamed again (not before carry.REDREAM_GAP frames after it: flow that goes
    wrong frame after frame must not re-key every frame)."""
    sharp = pan(8, speed=1.0, blur=1.0)
    frames = [cv2.GaussianBlur(sharp[0], (0, 0), 1.5)] + sharp[1:]  # still like it (tracking.likeness): blurred
    now, then = (tracking.structure(tensor(f)) for f in frames[1::-1])
    assert float(tracking.sharper(now, then, torch.ones(1, 1, H, W))) >= tracking.SHARPER
    _, _, keyed = run(dreamer(), frames)
    assert any(keyed[1:6])  # from carry.REDREAM_GAP frames after the keyframe


def test_a_dissolve_leaves_no_dream_of_the_first_picture():
    """A locked-off shot dissolving into another over 12 frames: as the other picture comes in, the keyframe is
    dreamed again, so the second picture's dream does not carry the first's (as after a cut)."""
    first, second = still(0, 30), still(1, 30)
    frames = synth.dissolve(first, second, 12)
    outs, carries, keyed = run(dreamer(), frames)
    cut_outs, _, _ = run(dreamer(), first[:18] + second[12:], cuts={18})
    before = detail(outs[17], frames[17])  # the first picture's dream, the frame before the dissolve
    again = [i for i in range(18, 30) if keyed[i]]
    assert again and all(crossfaded(outs, frames, carries, i) for i in again)
    left = corr(detail(outs[-1], frames[-1]), before)
    after_cut = corr(detail(cut_outs[-1], frames[-1]), detail(cut_outs[17], frames[17]))
    assert left < after_cut + 0.2, (left, after_cut)


def test_motion_noise_and_light_do_not_dream_the_keyframe_again():
    """The checks for a new picture never fire on a pan with sensor noise and a strobe, nor on a zoom, nor on
    cloth whose travelling folds squeeze its print and turn it to and from the light."""
    frames = synth.strobe(synth.grain(pan(24, speed=2.0)), every=8, flash=1.6, dim=0.5)
    _, _, keyed = run(dreamer(), frames)
    assert not any(keyed[1:])
    big = photo(w=3 * W, h=3 * H)
    zoom = synth.along(big, (W, H), synth.dolly_path(big.shape, 16, 1.0, 1.6))
    _, _, keyed = run(dreamer(), zoom)
    assert not any(keyed[1:])
    cloth = synth.cloth(skimage.data.chelsea(), (256, 144), 20)  # big enough for DIS to follow its folds
    _, _, keyed = run(dreamer(), cloth)
    assert not any(keyed[1:])


@pytest.mark.parametrize("gain, noise", [(0.08, 8), (0.04, 6)])
def test_a_dark_noisy_pan_is_not_taken_for_a_new_picture(gain, noise):
    """A night pan (mean luma 0.035 and 0.018) under heavy sensor noise (8 and 6 grey levels): its keyframe is
    dreamed again once in 40 frames at most. Noise swamps the picture's shapes (tracking.shape), not its
    brightness layout, and two frames of it are as much less alike as it is to its keyframe (Carry.steady);
    by its shapes alone the first re-keyed every 4 frames, and against a fixed NEW_PICTURE the second did."""
    pan = synth.camera(skimage.data.astronaut(), (256, 144), 40)
    night = synth.grain([(f * gain).astype(np.uint8) for f in pan], std=noise)
    _, _, keyed = run(dreamer(), night)
    assert sum(keyed[1:]) <= 1


def test_a_dark_noisy_dissolve_is_still_a_new_picture():
    """The same night and noise as above, a pan dissolving into another over 12 frames (18-29): the keyframe is
    dreamed again in the dissolve, as in a clean one (the noise that lowers the likeness to the frame before
    does not blind it to another picture)."""
    a = synth.camera(skimage.data.astronaut(), (256, 144), 36, seed=0)
    b = synth.camera(skimage.data.coffee(), (256, 144), 36, seed=1)
    frames = synth.grain([(f * 0.04).astype(np.uint8) for f in synth.dissolve(a[:30], b[6:], 12)], std=6)
    _, _, keyed = run(dreamer(), frames)
    assert any(keyed[20:31])


def test_likeness_is_blind_to_light_and_sees_another_picture():
    a, b = tensor(still(0, 1)[0]), tensor(still(1, 1)[0])
    every = torch.ones(1, 1, H, W)
    assert float(tracking.likeness(a * 0.5, a, every)) > 0.99
    cat = tensor(synth.cloth(skimage.data.chelsea(), (256, 144), 1)[0])
    folds = 1 + 0.3 * torch.cos(2 * torch.pi * torch.arange(256) / 115)  # light changing across the picture
    assert float(tracking.likeness(cat * folds, cat, torch.ones(1, 1, 144, 256))) > 0.95
    assert float(tracking.likeness(b, a, every)) < 0.5
    assert float(tracking.likeness(0.5 * (a + b), a, every)) < float(tracking.likeness(0.8 * a + 0.2 * b, a, every))


def test_a_letterboxed_fade_from_black_through_the_command_line(tmp_path):
    """The real reader and writer: a letterboxed clip faded up from black, H.264 in, lossless out. The first
    frame comes out black and the bars stay black (within 2 levels); the picture is dreamed, as much as the
    fade lets."""
    from dreamvideo import video
    from dreamvideo.cli import main

    src, out = str(tmp_path / "in.mp4"), str(tmp_path / "out.mkv")
    faded_in(src)
    assert main([src, out, "--octaves", "2", "--steps", "2", "--codec", "ffv1"]) == 0
    read = lambda p: list(video.read_frames(video.count_frames(video.probe(p)), 0, 25))  # noqa: E731
    ins, outs = read(src), read(out)
    assert len(outs) == 25 and int(outs[0].max()) <= 2
    for i, o in zip(ins, outs):  # the two rows next to the picture hold its colour (4:2:0): picture
        assert np.abs(o[:13].astype(int) - i[:13]).max() <= 2 and np.abs(o[-13:].astype(int) - i[-13:]).max() <= 2
    picture = [np.abs(o[15:-15].astype(float) - i[15:-15]).mean() for i, o in zip(ins, outs)]
    assert picture[-1] > 2
    assert picture[3] <= 0.6 * picture[20]  # the job's scan found the fade: 0.3 of the light, about 0.3 of the dream


def test_a_render_that_starts_and_ends_inside_fades_finds_them(tmp_path):
    """A 2 s clip faded in over its first 10 frames and out to black over frames 34 to 43, rendered from inside
    the fade in to inside the fade out (--start 0.2 --duration 1.36: frames 5 to 38, each half lit). The job looks beyond its frames for the
    fades' ends: its first and last frames show about half the dream, as a render of the whole clip shows them
    there (before, both showed the whole dream over a half-lit picture: the fades were not found)."""
    from dreamvideo import video
    from dreamvideo.cli import main

    src, out = str(tmp_path / "in.mp4"), str(tmp_path / "out.mkv")
    synth.lavfi_clip(src, size=(160, 90), seconds=2.0, audio=None, video_args=(
        "-vf", "fade=in:0:10,fade=out:34:10", "-c:v", "libx264", "-pix_fmt", "yuv420p"))
    assert main([src, out, "--octaves", "2", "--steps", "2", "--codec", "ffv1", "--start", "0.2",
                 "--duration", "1.36"]) == 0
    ins = list(video.read_frames(video.count_frames(video.probe(src)), 5, 34))
    outs = list(video.read_frames(video.count_frames(video.probe(out))))
    assert len(outs) == 34
    dream = [np.abs(o.astype(float) - i).mean() for i, o in zip(ins, outs)]
    assert dream[0] <= 0.7 * dream[20] and dream[-1] <= 0.7 * dream[20], (dream[0], dream[20], dream[-1])


def test_a_shot_that_keeps_losing_its_tracking_gets_repainted():
    """Flow that cannot follow the motion (here: none at all for a pan), so too little is tracked frame after
    frame and it rebases every other frame. Rebasing alone would make what the refresh grew (the finest pattern) the
    keyframe for the rest of the shot; from ticks.REKEY_GAP frames after the last keyframe or repaint, the
    re-key repaints."""
    frames = pan(12, speed=6.0, blur=1.0)
    vd = VideoDreamer(dreamer(), load("default").video)
    still = np.zeros((2, H, W), np.float32)  # wrong: the scene moves 6 px a frame
    carry, trust, painted = None, [], []
    for i, f in enumerate(frames):
        (_,), (carry,) = vd.step([FrameIn(i, f, still if i else None, None, i == 0)], [carry])
        painted.append(vd.repainted)
        trust.append(carry.age)
    assert trust[1:].count(0) >= 5  # rebased (or repainted) every other frame: too little tracked
    assert any(painted[4:])


def test_flow_that_goes_wrong_every_frame_re_keys_only_every_few_frames():
    """A pan of a third of the frame a frame, blurred: the flow goes wrong while its pixels still pass the checks,
    and the keyframe warped along it no longer looks like the frame (a new picture, every frame). Re-dreaming
    waits carry.REDREAM_GAP frames, so at most one keyframe in that many."""
    big = photo(w=W + 400)
    frames = [cv2.blur(big[20:20 + H, 30 * k:30 * k + W], (15, 1)) for k in range(12)]
    _, _, keyed = run(dreamer(), frames)
    assert 2 <= sum(keyed) <= 3  # 0, 4, 8 (every frame without the wait)


def test_fades_are_found_from_and_to_black_and_nothing_else():
    """lanes.fade_shares on frames' mean luma: a fade in from black (after black frames held) shows each frame's
    light over its end's, a fade out over its start's, a dip to black both; lights going down without reaching
    black, a flash and a steady shot are no fades."""
    from dreamvideo.lanes import fade_shares

    fade_in = [0.0, 0.0] + [0.4 * k / 8 for k in range(1, 9)] + [0.4] * 3  # frames 1..9: black, then up to 0.4
    shares = fade_shares(fade_in)
    assert sorted(shares) == list(range(1, 9)) and all(abs(shares[k] - (k - 1) / 8) < 1e-9 for k in shares)
    fade_out = [0.4] * 3 + [0.4 * (1 - k / 6) for k in range(1, 7)] + [0.0]  # from frame 2 (0.4) to 8 (black)
    shares = fade_shares(fade_out)
    assert sorted(shares) == list(range(3, 9)) and all(abs(shares[k] - (1 - (k - 2) / 6)) < 1e-9 for k in shares)
    dip = fade_out + fade_in[2:]
    assert len(fade_shares(dip)) == 6 + 8  # the black frame between them once
    down = [0.4] * 3 + [0.4 - 0.03 * k for k in range(1, 8)] + [0.19] * 3  # lights going down to half
    flash = [0.4] * 4 + [0.7, 0.7] + [0.4] * 4
    assert fade_shares(down) == {} and fade_shares(flash) == {} and fade_shares([0.4] * 10) == {}
    assert fade_shares([]) == {} and fade_shares([0.0]) == {}
    # a job's frames 5.. of the dip, with the light of the frames around them: their shares, renumbered
    from dreamvideo.lanes import Scan

    job = Scan([], dip[5:15], [()] * 10, (64, 36), before=dip[:5], after=dip[15:])
    assert job.fades() == {k - 5: s for k, s in fade_shares(dip).items() if 5 <= k < 15}
    assert len(job.fades()) == 10 and len(Scan([], dip[5:15], [()] * 10, (64, 36)).fades()) < 10


def faded_run(frames):
    """Dream frames as one shot, each shown as its fade lets (lanes.fade_shares on 64 px thumbnails, as a job's
    scan finds them); returns the outputs' strength (mean |out - in|) per frame and the fades."""
    from dreamvideo.lanes import THUMB_WIDTH, fade_shares, light, thumb_height

    size = (THUMB_WIDTH, thumb_height(W, H))
    fades = fade_shares([light(cv2.resize(f, size, interpolation=cv2.INTER_AREA)) for f in frames])
    vd, carry, prev, strength = VideoDreamer(dreamer(), load("default").video), None, None, []
    for i, f in enumerate(frames):
        b, _ = prepare_flows(prev, f, "dis", forward=False)
        (y,), (carry,) = vd.step([FrameIn(i, f, b, None, i == 0, fades.get(i, 1.0))], [carry])
        strength.append(np.abs(np.asarray(y).astype(np.float32) - f).mean() / 255)
        prev = f
    return strength, fades


def test_the_dream_fades_in_and_out_with_the_picture():
    """A pan faded in from black over 10 frames and out to black over 10: the dream's strength follows the
    picture's light through both (before, the fade in showed its whole dream from a fifth of the light on, and
    the fade out until the last fifth: a bright dream over a dim picture)."""
    frames = synth.fade(pan(30, speed=1.0), fade_in=10, fade_out=10)
    strength, fades = faded_run(frames)
    full = float(np.mean(strength[12:18]))
    for t in [*range(1, 10), *range(20, 29)]:
        light = min(t / 10, (29 - t) / 10)
        assert abs(fades[t] - light) < 0.05, (t, fades[t], light)
        assert abs(strength[t] / full - light) < 0.2, (t, strength[t] / full, light)


def test_fades_from_and_to_white_are_found_too():
    """A fade to white (a flash transition) is one to black of the luma's distance from white: each frame shows
    as much of its dream as of its picture, and a white frame none."""
    from dreamvideo.lanes import fade_shares

    lights = [0.4] * 3 + [0.4 + 0.6 * k / 4 for k in range(1, 5)] + [1.0 - 0.6 * k / 4 for k in range(1, 5)] + [0.4] * 3
    shares = fade_shares(lights)  # up to white at frame 6, back down to the picture at frame 10
    assert sorted(shares) == list(range(3, 10)) and shares[6] == 0
    assert all(abs(shares[k] - (1 - lights[k]) / 0.6) < 1e-9 for k in shares)
    frames = synth.fade(pan(30, speed=1.0), fade_in=10, fade_out=10, colour=255)
    strength, fades = faded_run(frames)
    full = float(np.mean(strength[12:18]))
    assert strength[0] == 0 and strength[-1] == 0  # white stays white
    for t in (3, 5, 24, 26):  # no more than the picture shows (less: what the dream brightens clips at white)
        light = min(t / 10, (29 - t) / 10)
        assert 0 < strength[t] / full <= light + 0.1, (t, strength[t] / full, light)
