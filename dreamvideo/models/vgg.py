"""VGG16 / VGG19 with torchvision's parameter names (features.N, classifier.N)."""
from __future__ import annotations

from torch import nn

CONFIGS = {
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "vgg19": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}


class VGG(nn.Module):
    def __init__(self, arch: str, num_classes: int = 1000):
        super().__init__()
        layers: list[nn.Module] = []
        cin = 3
        for v in CONFIGS[arch]:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(cin, v, 3, padding=1), nn.ReLU(inplace=False)]
                cin = v
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(7)
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096), nn.ReLU(), nn.Dropout(),
            nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(),
            nn.Linear(4096, num_classes),
        )

    def stages(self) -> list[tuple[str, nn.Module]]:
        return [(f"features.{i}", m) for i, m in enumerate(self.features)]

    def forward(self, x):
        return self.classifier(self.avgpool(self.features(x)).flatten(1))


def keras_aliases(arch: str) -> dict[str, str]:
    """Keras layer names (block4_conv1, block5_pool, ...) -> our stage names (post-ReLU outputs)."""
    aliases, block, conv, i = {}, 1, 1, 0
    for v in CONFIGS[arch]:
        if v == "M":
            aliases[f"block{block}_pool"] = f"features.{i}"
            block, conv, i = block + 1, 1, i + 1
        else:
            aliases[f"block{block}_conv{conv}"] = f"features.{i + 1}"
            conv, i = conv + 1, i + 2
    return aliases
