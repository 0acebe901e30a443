import tomllib

import pytest

from dreamvideo import config
from dreamvideo.errors import UserError
from dreamvideo.models import MODELS, DreamNet
from dreamvideo.objectives import parse
from dreamvideo.reactive import objective_keyframes


def test_every_preset_loads_and_its_objective_resolves():
    assert {"default", "preview", "dreamy", "bad_trip", "keras_inception", "dlwp_inception",
            "inception_mixed3_5", "music_video"} <= set(config.presets())
    for name in config.presets():
        cfg = config.load(name)
        spec = MODELS[cfg.model.name]
        keyed = objective_keyframes(cfg.objective.spec)
        for each in [v for _, _, v in keyed.keys] if keyed else [cfg.objective.spec or spec.default_objective]:
            parse(each, DreamNet(spec.build(), spec).resolve)


def test_recipes():
    k = config.load("keras_inception")
    assert (k.model.name, k.dream.octaves, k.dream.octave_scale, k.dream.steps, k.dream.max_loss) == \
        ("inception_v3", 3, 1.4, 20, 15.0)
    assert "2.5*mixed7" in k.objective.spec
    b = config.load("bad_trip")
    assert b.model.name == "vgg16" and b.dream.optimizer == "lbfgs" and b.dream.jitter == 5
    assert "0.8*dream_l2" in b.objective.spec and "0.1*continuity" in b.objective.spec


def test_precedence_and_types(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text('[dream]\nsteps = 7\nstep_size = 1\n[run]\nseed = 3\n')
    cfg = config.load("preview", str(f), ["dream.steps=9", "dream.clip=false"], {"run.seed": "5", "dream.jitter": None})
    assert cfg.dream.steps == 9 and cfg.dream.step_size == 1.0 and cfg.run.seed == 5
    assert cfg.dream.clip is False and cfg.dream.octaves == 2  # from the preset
    assert cfg.dream.jitter == config.DreamConfig().jitter


@pytest.mark.parametrize("item,msg", [
    ("dream.foo=1", "valid keys are model.name"),
    ("dream.jitter=abc", "not an integer"),
    ("dream.steps=abc", "'abc' is not allowed"),
    ("dream.step_size=0s:1, 2s", "cannot parse keyframes"),
    ("dream.steps=-1", "must be >= 0"),
    ("dream.octave_scale=1", "must be > 1.0"),
    ("dream.normalize=max", "choose one of mean, std"),
    ("dream.clip=maybe", "not true or false"),
    ("dream.steps", "needs key=value"),
])
def test_bad_settings(item, msg):
    with pytest.raises(UserError, match=msg):
        config.load("default", sets=[item])


def test_bad_files(tmp_path):
    with pytest.raises(UserError, match="unknown preset 'zzz'"):
        config.load("zzz")
    with pytest.raises(UserError, match="config file not found"):
        config.load("default", str(tmp_path / "none.toml"))
    bad = tmp_path / "bad.toml"
    bad.write_text("[dream\n")
    with pytest.raises(UserError, match="cannot read config file"):
        config.load("default", str(bad))
    bad.write_text("steps = 3\n")
    with pytest.raises(UserError, match="must be a table"):
        config.load("default", str(bad))


def test_saved_settings_read_back_equal(tmp_path):
    cfg = config.load("keras_inception", sets=['objective.guide=a "b".png', "run.seed=4"])
    path = tmp_path / "s.toml"
    path.write_text(config.to_toml(cfg))
    assert tomllib.loads(path.read_text())["run"]["seed"] == 4
    assert config.load("default", str(path)) == cfg


def test_typed_values_are_typed_at_load_and_read_back_equal(tmp_path):
    """fps is a Fraction, sizes and points tuples, from text once at load; an animated pan stays text for the
    animator; the saved settings read back to the same values."""
    from fractions import Fraction

    cfg = config.load("default", sets=["zoom.fps=29.97", "zoom.size=64x48", "zoom.pan=3.5,-4", "zoom.center=1,2",
                                       "video.lanes=2"])
    z = cfg.zoom
    assert z.fps == Fraction(30000, 1001) and z.size == (64, 48) and z.pan == (3.5, -4.0) and z.center == (1.0, 2.0)
    assert config.load("default").zoom.pan == (0.0, 0.0) and config.load("default").zoom.size is None
    animated = config.load("default", sets=["zoom.pan=0s:0, 1s:40 ; 2*t"])
    path = tmp_path / "s.toml"
    for c in (cfg, animated):
        path.write_text(config.to_toml(c))
        assert config.load("default", str(path)) == c


def test_every_setting_is_declared_once_with_help_and_its_checks():
    """The schema is the one place a setting is declared: each has help text; limits, choices and animation
    come from it (a limit declared there is what set_value enforces)."""
    settings = config.schema()
    assert all(s.meta.help for s in settings.values())
    assert set(config.animatable()) == {k for k, s in settings.items() if s.meta.animated}
    for key, s in settings.items():
        if s.meta.limits and s.kind in (int, float):
            lo, hi = s.meta.limits
            config.set_value(config.Config(), key, s.kind(hi))
            with pytest.raises(UserError, match=f"bad value for {key}"):
                config.set_value(config.Config(), key, s.kind(hi) + 1)
        for choice in s.meta.choices or ():
            config.set_value(config.Config(), key, choice)
