"""The BiSeNet of face-parsing.PyTorch (ResNet-18 context path, attention refinement, feature fusion, 19
classes, 512 x 512 input), written without torchvision (which does not import beside this torch) and with the
original parameter names, so the published ``79999_iter.pth`` state dict loads with ``strict=True``.

Source: Yu et al., "BiSeNet: Bilateral Segmentation Network for Real-time Semantic Segmentation", ECCV 2018;
zllrunning/face-parsing.PyTorch (MIT).
"""

from __future__ import annotations

import functools
from typing import Any

from models.errors import ModelUnavailableError


@functools.cache
def _bisenet_classes():  # noqa: C901 - a lazy factory of the small nn.Module classes; ruff sums their methods
    """Define the network lazily so that importing this module (for the approx parser) does not import torch."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    def conv3x3(in_chan: int, out_chan: int, stride: int = 1) -> nn.Conv2d:
        return nn.Conv2d(in_chan, out_chan, kernel_size=3, stride=stride, padding=1, bias=False)

    class BasicBlock(nn.Module):
        def __init__(self, in_chan: int, out_chan: int, stride: int = 1):
            super().__init__()
            self.conv1 = conv3x3(in_chan, out_chan, stride)
            self.bn1 = nn.BatchNorm2d(out_chan)
            self.conv2 = conv3x3(out_chan, out_chan)
            self.bn2 = nn.BatchNorm2d(out_chan)
            self.downsample = None
            if in_chan != out_chan or stride != 1:
                self.downsample = nn.Sequential(
                    nn.Conv2d(in_chan, out_chan, kernel_size=1, stride=stride, bias=False),
                    nn.BatchNorm2d(out_chan),
                )

        def forward(self, x):
            residual = F.relu(self.bn1(self.conv1(x)))
            residual = self.bn2(self.conv2(residual))
            shortcut = x if self.downsample is None else self.downsample(x)
            return F.relu(shortcut + residual)

    def layer(in_chan: int, out_chan: int, blocks: int, stride: int) -> nn.Sequential:
        return nn.Sequential(
            BasicBlock(in_chan, out_chan, stride), *[BasicBlock(out_chan, out_chan) for _ in range(blocks - 1)]
        )

    class Resnet18(nn.Module):
        """ResNet-18 trunk returning the stride-8, -16 and -32 features (no classifier)."""

        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
            self.bn1 = nn.BatchNorm2d(64)
            self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
            self.layer1 = layer(64, 64, 2, 1)
            self.layer2 = layer(64, 128, 2, 2)
            self.layer3 = layer(128, 256, 2, 2)
            self.layer4 = layer(256, 512, 2, 2)

        def forward(self, x):
            x = self.maxpool(F.relu(self.bn1(self.conv1(x))))
            feat8 = self.layer2(self.layer1(x))
            feat16 = self.layer3(feat8)
            feat32 = self.layer4(feat16)
            return feat8, feat16, feat32

    class ConvBNReLU(nn.Module):
        def __init__(self, in_chan: int, out_chan: int, ks: int = 3, stride: int = 1, padding: int = 1):
            super().__init__()
            self.conv = nn.Conv2d(in_chan, out_chan, kernel_size=ks, stride=stride, padding=padding, bias=False)
            self.bn = nn.BatchNorm2d(out_chan)

        def forward(self, x):
            return F.relu(self.bn(self.conv(x)))

    class BiSeNetOutput(nn.Module):
        def __init__(self, in_chan: int, mid_chan: int, n_classes: int):
            super().__init__()
            self.conv = ConvBNReLU(in_chan, mid_chan)
            self.conv_out = nn.Conv2d(mid_chan, n_classes, kernel_size=1, bias=False)

        def forward(self, x):
            return self.conv_out(self.conv(x))

    class AttentionRefinementModule(nn.Module):
        def __init__(self, in_chan: int, out_chan: int):
            super().__init__()
            self.conv = ConvBNReLU(in_chan, out_chan)
            self.conv_atten = nn.Conv2d(out_chan, out_chan, kernel_size=1, bias=False)
            self.bn_atten = nn.BatchNorm2d(out_chan)

        def forward(self, x):
            feat = self.conv(x)
            atten = torch.sigmoid(self.bn_atten(self.conv_atten(F.adaptive_avg_pool2d(feat, 1))))
            return feat * atten

    class ContextPath(nn.Module):
        def __init__(self):
            super().__init__()
            self.resnet = Resnet18()
            self.arm16 = AttentionRefinementModule(256, 128)
            self.arm32 = AttentionRefinementModule(512, 128)
            self.conv_head32 = ConvBNReLU(128, 128)
            self.conv_head16 = ConvBNReLU(128, 128)
            self.conv_avg = ConvBNReLU(512, 128, ks=1, padding=0)

        def forward(self, x):
            feat8, feat16, feat32 = self.resnet(x)
            avg_up = F.interpolate(self.conv_avg(F.adaptive_avg_pool2d(feat32, 1)), feat32.shape[2:], mode="nearest")
            feat32_up = F.interpolate(self.arm32(feat32) + avg_up, feat16.shape[2:], mode="nearest")
            feat32_up = self.conv_head32(feat32_up)
            feat16_up = F.interpolate(self.arm16(feat16) + feat32_up, feat8.shape[2:], mode="nearest")
            feat16_up = self.conv_head16(feat16_up)
            return feat8, feat16_up, feat32_up

    class FeatureFusionModule(nn.Module):
        def __init__(self, in_chan: int, out_chan: int):
            super().__init__()
            self.convblk = ConvBNReLU(in_chan, out_chan, ks=1, padding=0)
            self.conv1 = nn.Conv2d(out_chan, out_chan // 4, kernel_size=1, bias=False)
            self.conv2 = nn.Conv2d(out_chan // 4, out_chan, kernel_size=1, bias=False)

        def forward(self, fsp, fcp):
            feat = self.convblk(torch.cat([fsp, fcp], dim=1))
            atten = torch.sigmoid(self.conv2(F.relu(self.conv1(F.adaptive_avg_pool2d(feat, 1)))))
            return feat * atten + feat

    class BiSeNet(nn.Module):
        """face-parsing.PyTorch's BiSeNet: the stride-8 ResNet feature stands in for the spatial path.

        ``forward`` returns the main logits only (the two auxiliary heads are kept so that the published state
        dict loads strictly; they serve training only).
        """

        def __init__(self, n_classes: int = 19):
            super().__init__()
            self.cp = ContextPath()
            self.ffm = FeatureFusionModule(256, 256)
            self.conv_out = BiSeNetOutput(256, 256, n_classes)
            self.conv_out16 = BiSeNetOutput(128, 64, n_classes)
            self.conv_out32 = BiSeNetOutput(128, 64, n_classes)

        def forward(self, x):
            feat_res8, feat_cp8, _ = self.cp(x)
            logits = self.conv_out(self.ffm(feat_res8, feat_cp8))
            return F.interpolate(logits, x.shape[2:], mode="bilinear", align_corners=True)

    return BiSeNet


def build_bisenet(n_classes: int = 19):
    """An untrained face-parsing.PyTorch BiSeNet in eval mode (parameter names as in the original).

    Source: Yu et al., "BiSeNet", ECCV 2018 (module docstring).

    Args:
        n_classes: output classes (19 for CelebAMask-HQ).

    Returns:
        ``torch.nn.Module``: (N, 3, H, W) ImageNet-normalised RGB -> (N, n_classes, H, W) logits.
    """
    return _bisenet_classes()(n_classes).eval()


def clean_state_dict(state: Any) -> dict:
    """The parameter dict of a checkpoint: unwraps ``{"state_dict": ...}`` and DataParallel's ``module.`` prefix.

    Args:
        state: what ``torch.load`` returned.

    Returns:
        ``{parameter name: tensor}``.

    Raises:
        ModelUnavailableError: ``state`` holds no dict of parameters.
    """
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ModelUnavailableError(f"expected a BiSeNet state dict, got {type(state).__name__}")
    # checkpoints saved from DataParallel prefix every key with "module."
    return {k.removeprefix("module."): v for k, v in state.items()}

