import pytest
import torch

from dreamvideo import objectives as O
from dreamvideo.errors import UserError


def acts():
    g = torch.Generator().manual_seed(1)
    return {"a": torch.randn(2, 4, 6, 6, generator=g), "b": torch.randn(2, 3, 5, 5, generator=g)}


def test_layer_and_channel_scores_are_per_sample():
    a, img = acts(), torch.rand(2, 3, 8, 8)
    assert torch.allclose(O.LayerL2("a")(a, img), a["a"].pow(2).mean(dim=(1, 2, 3)))
    assert torch.allclose(O.Channel("a", 2)(a, img), a["a"][:, 2].mean(dim=(1, 2)))
    assert torch.allclose(O.LayerMean("b")(a, img), a["b"].mean(dim=(1, 2, 3)))
    assert torch.allclose(O.LayerL2("a", border=2)(a, img), a["a"][..., 2:-2, 2:-2].pow(2).mean(dim=(1, 2, 3)))


def test_parse_weighted_sum():
    a, img = acts(), torch.rand(2, 3, 8, 8)
    obj = O.parse("0.5*a + 1.5*b:1 - 2e-1*continuity")
    assert obj.layers == ("a", "b")
    want = 0.5 * O.LayerL2("a")(a, img) + 1.5 * O.Channel("b", 1)(a, img) - 0.2 * O.Continuity()(a, img)
    assert torch.allclose(obj(a, img), want)
    assert torch.allclose(O.parse("mean(a) - dream_l2")(a, img), O.LayerMean("a")(a, img) - O.DreamL2()(a, img))


def test_composition_operators():
    a, img = acts(), torch.rand(2, 3, 8, 8)
    obj = O.LayerL2("a") - 3 * O.LayerL2("b")
    assert torch.allclose(obj(a, img), O.LayerL2("a")(a, img) - 3 * O.LayerL2("b")(a, img))


@pytest.mark.parametrize("spec,pos", [("a +", 2), ("a b", 2), ("2*", 1), ("a + *b", 2), ("a:x", 1)])
def test_bad_syntax_names_position(spec, pos):
    with pytest.raises(UserError, match=f"at position {pos}"):
        O.parse(spec)


def test_unknown_layer_goes_through_resolve():
    def resolve(name):
        raise UserError(f"unknown layer '{name}'")

    with pytest.raises(UserError, match="unknown layer 'zz'"):
        O.parse("zz", resolve)


def test_guide_prefers_the_guide_features():
    guide = torch.randn(4, 3, 3, generator=torch.Generator().manual_seed(0))
    obj = O.Guide("a", guide)
    same = guide.repeat(1, 2, 2)[None]  # a layer made of the guide's own features
    other = torch.randn(1, 4, 6, 6, generator=torch.Generator().manual_seed(5))
    other = other / other.norm() * same.norm()
    assert obj({"a": same}, None) > obj({"a": other}, None)


def test_channel_out_of_range():
    with pytest.raises(UserError, match="channel 9 out of range"):
        O.Channel("a", 9)(acts(), None)


def test_animated_weights_are_parsed_once_and_evaluated_per_frame():
    """`[expr]*layer` becomes an animated weight of the parsed objective: each moment evaluates numbers (kept
    >= 0, the term's sign applied); nothing is parsed again. Without an animated-weight parser it is refused."""
    from dreamvideo import schedule

    obj = O.parse("[t]*c2 - [2*t]*c3 + 0.5*c1", animated=schedule.parse)
    assert obj.animated
    at = obj.at(1.5, 0, {}, 10.0)
    assert [w for w, _ in at.terms] == [1.5, -3.0, 0.5] and not at.animated
    assert [w for w, _ in obj.at(-1.0, 0, {}, 10.0).terms][:2] == [0.0, -0.0]
    with pytest.raises(UserError, match="expected"):
        O.parse("[t]*c2")


def test_per_sample_objective_gives_each_sample_its_own_sum():
    """Lanes with different objectives in one batch: sample i scores what its own sum gives it alone, terms
    shared by identity, a term a lane lacks weighted 0; for_rows picks samples (as the engine's tiles do)."""
    a, img = acts(), torch.rand(2, 3, 8, 8)
    la, lb = O.LayerL2("a"), O.Channel("b", 1)
    first, second = O.Sum([(0.5, la)]), O.Sum([(2.0, la), (-1.0, lb)])
    both = O.PerSample.of([first, second], torch.device("cpu"))
    assert len(both.terms) == 2 and both.layers == ("a", "b")
    assert torch.allclose(both(a, img), torch.stack([first(a, img)[0], second(a, img)[1]]))
    one = {k: v[1:] for k, v in a.items()}
    assert torch.allclose(both.for_rows(torch.tensor([1]))(one, img[1:]), second(one, img[1:]))
    assert torch.allclose(both.for_rows(slice(0, 1))({k: v[:1] for k, v in a.items()}, img[:1]), first(a, img)[:1])
    assert first.for_rows([1]) is first
