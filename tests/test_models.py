import pytest
import skimage.data
import torch
import torch.nn.functional as F

from dreamvideo.errors import UserError
from dreamvideo.images import to_tensor
from dreamvideo.models import MODELS, DreamNet, load_model, weights_available

# Keys and shapes as torchvision names them (a sample per model) and the state-dict sizes.
TORCHVISION_KEYS = {
    "vgg16": (32, {"features.0.weight": (64, 3, 3, 3), "features.28.bias": (512,), "classifier.6.weight": (1000, 4096)}),
    "vgg19": (38, {"features.34.weight": (512, 512, 3, 3), "classifier.0.weight": (4096, 25088)}),
    "googlenet": (364, {
        "conv1.conv.weight": (64, 3, 7, 7), "conv1.bn.running_var": (64,),
        "inception4c.branch2.1.conv.weight": (256, 128, 3, 3), "inception3a.branch3.1.conv.weight": (32, 16, 3, 3),
        "inception5b.branch4.1.conv.weight": (128, 832, 1, 1), "aux1.fc1.weight": (1024, 2048), "fc.weight": (1000, 1024)}),
    "inception_v3": (580, {
        "Conv2d_1a_3x3.conv.weight": (32, 3, 3, 3), "Mixed_5b.branch_pool.conv.weight": (32, 192, 1, 1),
        "Mixed_6b.branch7x7_2.conv.weight": (128, 128, 1, 7), "Mixed_7c.branch3x3dbl_3b.conv.weight": (384, 384, 3, 1),
        "AuxLogits.conv1.conv.weight": (768, 128, 5, 5), "fc.weight": (1000, 2048), "Mixed_7a.branch7x7x3_4.bn.bias": (192,)}),
}


@pytest.mark.parametrize("name", list(TORCHVISION_KEYS))
def test_torchvision_state_dicts_load(name, tmp_path):
    count, sample = TORCHVISION_KEYS[name]
    shapes = {k: v.shape for k, v in MODELS[name].build().state_dict().items()}
    assert len(shapes) == count
    for key, shape in sample.items():
        assert tuple(shapes[key]) == shape, key
    # A state dict written with those names loads strictly through --weights.
    sd = {k: torch.full(s, 0.01) if len(s) else torch.tensor(0) for k, s in shapes.items()}
    path = tmp_path / f"{name}.pth"
    torch.save(sd, path)
    net = load_model(name, str(path))
    assert torch.equal(net.model.state_dict()["fc.weight" if "vgg" not in name else "classifier.6.weight"],
                       sd["fc.weight" if "vgg" not in name else "classifier.6.weight"])


def test_wrong_weights_give_clear_error(tmp_path):
    path = tmp_path / "bad.pth"
    torch.save({"nope": torch.zeros(1)}, path)
    with pytest.raises(UserError, match="do not fit model 'vgg16'"):
        load_model("vgg16", str(path))
    with pytest.raises(UserError, match="weights file not found"):
        load_model("vgg16", str(tmp_path / "missing.pth"))


def test_offline_without_weights_says_how_to_get_them(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))

    def offline(*a, **k):
        raise OSError("no network")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    assert not weights_available("googlenet")
    with pytest.raises(UserError, match="--weights PATH"):
        load_model("googlenet")


def _classify(net, rgb):
    x = F.interpolate(to_tensor(rgb), size=(224, 224), mode="bilinear", antialias=True)
    h = (x - net.mean) / net.std
    with torch.no_grad():
        return net.model(h).softmax(1)[0]


def test_efficientnet_lite0_real_weights_classify_photos(lite0):
    assert weights_available("efficientnet_lite0")
    cat = _classify(lite0, skimage.data.chelsea())
    assert int(cat.argmax()) in range(281, 286)  # the domestic cat classes
    assert float(cat[281:286].sum()) > 0.8
    coffee = _classify(lite0, skimage.data.coffee())
    assert int(coffee.argmax()) in (967, 968)  # espresso, cup


def test_truncation_runs_only_needed_stages(lite0):
    ran = []
    hooks = [m.register_forward_hook(lambda m, i, o, n=n: ran.append(n)) for n, m in
             [(f"blocks.{i}", b) for i, b in enumerate(lite0.model._blocks)]]
    try:
        acts = lite0(torch.rand(1, 3, 64, 64), ["blocks.3", "stem"])
    finally:
        for h in hooks:
            h.remove()
    assert set(acts) == {"stem", "blocks.3"}
    assert ran == ["blocks.0", "blocks.1", "blocks.2", "blocks.3"]


def test_shallow_layer_accepts_input_too_small_for_whole_network():
    spec = MODELS["inception_v3"]
    net = DreamNet(spec.build(), spec)
    x = torch.rand(1, 3, 40, 40)
    with pytest.raises(RuntimeError):
        net.model(x)
    assert net(x, ["mixed0"])["Mixed_5b"].shape[1] == 256


def test_keras_aliases():
    for name, alias, canonical in [("vgg16", "block4_conv1", "features.18"), ("vgg16", "block5_conv3", "features.29"),
                                   ("vgg19", "block4_conv4", "features.26"), ("inception_v3", "mixed4", "Mixed_6b"),
                                   ("inception_v3", "mixed10", "Mixed_7c"), ("googlenet", "inception4c", "inception4c")]:
        spec = MODELS[name]
        assert DreamNet(spec.build(), spec).resolve(alias) == canonical
    # Aliases name post-ReLU outputs in VGG, as Keras layers do.
    spec = MODELS["vgg16"]
    assert isinstance(spec.build().features[18], torch.nn.ReLU)


def test_unknown_layer_lists_valid_ones(tiny_net):
    with pytest.raises(UserError, match="choose one of c1, c2, c3"):
        tiny_net.resolve("c9")
    assert tiny_net.resolve("first") == "c1"


def test_unknown_model():
    with pytest.raises(UserError, match="unknown model 'nope'"):
        load_model("nope")


def test_curated_layers_resolve_in_forward_order():
    for name, spec in MODELS.items():
        net = DreamNet(spec.build(), spec)
        order = [net.order[net.resolve(layer)] for layer in spec.layers]
        assert order == sorted(order), name
        net.resolve(spec.default_objective)
