import pytest

from dreamvideo.errors import UserError
from dreamvideo.schedule import Constant, Expression, Keyframes, parse, parse_keyframes


def test_constant():
    assert parse("0.02").value(5, 0) == 0.02 and isinstance(parse(3), Constant)


def test_linear_keyframes_and_edges():
    k = parse("0s:0.01, 12.5s:0.03, 20s:0.01")
    assert isinstance(k, Keyframes)
    assert k.value(-1, 0) == 0.01 and k.value(0, 0) == 0.01  # before the first: the first value holds
    assert k.value(6.25, 0) == pytest.approx(0.02)
    assert k.value(12.5, 0) == pytest.approx(0.03)
    assert k.value(16.25, 0) == pytest.approx(0.02)
    assert k.value(99, 0) == 0.01  # after the last: the last value holds


def test_hold_smooth_and_frames():
    assert parse("hold 0s:1, 2s:3").value(1.99, 0) == 1 and parse("hold 0s:1, 2s:3").value(2, 0) == 3
    smooth = parse("smooth 0s:0, 2s:1")
    assert smooth.value(0.5, 0) == pytest.approx(0.15625) and smooth.value(1, 0) == pytest.approx(0.5)
    frames = parse("0f:0, 50f:1")
    assert frames.value(1.0, 25, fps=25) == pytest.approx(0.5)
    objectives = parse_keyframes("0s:mixed4, 30s:inception4c:97", number_values=False)
    assert [v for _, _, v in objectives.keys] == ["mixed4", "inception4c:97"]


@pytest.mark.parametrize("text,pos", [("0s:0.01, 2s", 9), ("0s:0.01, 2s:abc", 12), ("hold 0s:1, x:2", 11)])
def test_bad_keyframes_name_the_position(text, pos):
    with pytest.raises(UserError, match=f"position {pos}"):
        parse(text)


def test_expressions():
    e = parse("0.01 + 0.03*bass")
    assert isinstance(e, Expression) and e.uses_audio
    assert e.value(0, 0, {"bass": 0.5}) == pytest.approx(0.025)
    assert parse("clip(1.2 + 0.8*onset, 1, 1.5) - min(t, 0)").value(2, 0, {"onset": 1}) == 1.5
    assert parse("-rms**2 + 2/0").value(0, 0, {"rms": 0.5}) == pytest.approx(-0.25)  # division by 0 gives 0
    assert not parse("1 + t").uses_audio


@pytest.mark.parametrize("text", [
    "__import__('os').system('x')", "bass.real", "open('f')", "[1, 2]", "bass if t else 1", "lambda: 1",
    "nope + 1", "'text'", "bass < 1", "min(x=1)", "().__class__",
])
def test_expressions_beyond_arithmetic_are_rejected(text):
    with pytest.raises(UserError, match="not allowed|cannot parse"):
        parse(text)
