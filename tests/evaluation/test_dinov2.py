"""``--features dinov2`` (FD-DINOv2): Meta's checkpoint layout loaded into timm's ViT, against a
ViT written here from DINOv2's architecture (pre-norm blocks with layer scale, the class token
after the final norm, the 518-pixel position grid resized on the fly as DINOv2's model does)
fed through torch-fidelity's own FD-DINOv2 preprocessing.

The checkpoints are randomly initialised with fixed seeds, in the small member of the family
(ViT-S/14: 12 blocks of width 384) to keep the suite fast: ViT-L/14 goes through the same code,
only wider and deeper (24 blocks of 1024).
"""

from __future__ import annotations

import pytest
import timm
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_fidelity.feature_extractor_dinov2 import FeatureExtractorDinoV2
from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric

from ganfw.errors import UserError
from ganfw.evaluation import datasets, dinov2
from ganfw.evaluation.evaluate import evaluate_images
from ganfw.plugins import load_registry

SMALL = "vit_small_patch14_dinov2"


def meta_checkpoint(seed: int) -> dict[str, Tensor]:
    """A DINOv2 ViT-S/14 pretraining checkpoint as Meta publishes them (the 37x37 grid of the
    518-pixel pretraining, a ``mask_token``), random: weights drawn with ``seed``, layer scales
    near 1 so that every block counts."""
    torch.manual_seed(seed)
    state = timm.create_model(SMALL, pretrained=False, img_size=518, num_classes=0).state_dict()
    g = torch.Generator().manual_seed(seed)
    for key in state:
        if key.endswith(".gamma"):
            state[key] = torch.rand(state[key].shape, generator=g) * 0.5 + 0.5
    return {**state, "mask_token": torch.zeros(1, state["cls_token"].shape[-1])}


class ReferenceViT(nn.Module):
    """DINOv2's ViT forward on a checkpoint in Meta's layout, written from the architecture:
    patches, the class token, position embeddings resized bicubically by ``(grid + 0.1) / 37``
    (no antialiasing) on every call, pre-norm blocks (LayerNorm eps 1e-6) of attention and a GELU
    MLP each scaled by its layer scale, the final norm; the class token out."""

    def __init__(self, state: dict[str, Tensor], heads: int):
        super().__init__()
        self.state, self.heads = state, heads
        self.depth = 1 + max(int(k.split(".")[1]) for k in state if k.startswith("blocks."))

    def forward(self, x: Tensor) -> Tensor:
        s = self.state
        x = F.conv2d(x, s["patch_embed.proj.weight"], s["patch_embed.proj.bias"], stride=14)  # (N, D, h, w)
        n, d, h, w = x.shape
        x = torch.cat([s["cls_token"].expand(n, -1, -1), x.flatten(2).transpose(1, 2)], 1)
        pos, side = s["pos_embed"], round((s["pos_embed"].shape[1] - 1) ** 0.5)
        grid = pos[:, 1:].reshape(1, side, side, d).permute(0, 3, 1, 2)
        grid = F.interpolate(grid, scale_factor=((h + 0.1) / side, (w + 0.1) / side), mode="bicubic", antialias=False)
        x = x + torch.cat([pos[:, :1], grid.permute(0, 2, 3, 1).reshape(1, h * w, d)], 1)
        for i in range(self.depth):
            x = x + s[f"blocks.{i}.ls1.gamma"] * self.attention(self.norm(x, f"blocks.{i}.norm1"), f"blocks.{i}.attn")
            y = self.norm(x, f"blocks.{i}.norm2")
            y = F.gelu(F.linear(y, s[f"blocks.{i}.mlp.fc1.weight"], s[f"blocks.{i}.mlp.fc1.bias"]))
            x = x + s[f"blocks.{i}.ls2.gamma"] * F.linear(
                y, s[f"blocks.{i}.mlp.fc2.weight"], s[f"blocks.{i}.mlp.fc2.bias"]
            )
        return self.norm(x, "norm")[:, 0]

    def norm(self, x: Tensor, name: str) -> Tensor:
        return F.layer_norm(x, x.shape[-1:], self.state[f"{name}.weight"], self.state[f"{name}.bias"], eps=1e-6)

    def attention(self, x: Tensor, name: str) -> Tensor:
        n, tokens, d = x.shape
        qkv = F.linear(x, self.state[f"{name}.qkv.weight"], self.state[f"{name}.qkv.bias"])
        q, k, v = qkv.reshape(n, tokens, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        mixed = ((q * (d // self.heads) ** -0.5) @ k.transpose(-2, -1)).softmax(-1) @ v
        return F.linear(
            mixed.transpose(1, 2).reshape(n, tokens, d),
            self.state[f"{name}.proj.weight"],
            self.state[f"{name}.proj.bias"],
        )


def torch_fidelity_extractor(model: nn.Module) -> FeatureExtractorDinoV2:
    """torch-fidelity's FD-DINOv2 extractor (its resizing and normalisation) around ``model``
    instead of the network it would fetch from torch hub."""
    extractor = FeatureExtractorDinoV2.__new__(FeatureExtractorDinoV2)
    nn.Module.__init__(extractor)
    extractor.name, extractor.features_list = "dinov2-vit-l-14", ["dinov2"]
    extractor.feature_extractor_internal_dtype = torch.float32
    extractor.model = model
    return extractor.eval()


@pytest.fixture(scope="module")
def checkpoint() -> dict[str, Tensor]:
    return meta_checkpoint(0)


def pixels(n: int, size: int, seed: int) -> Tensor:
    return (torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed)) * 255).to(torch.uint8)


def test_features_are_dinov2s_through_torch_fidelitys_preprocessing(checkpoint):
    model = dinov2.build(dict(checkpoint), SMALL, "checkpoint")  # on the CPU, as the reference
    expected = torch_fidelity_extractor(ReferenceViT(checkpoint, heads=6))
    for batch in (pixels(3, 16, seed=1), pixels(2, 300, seed=2)):  # up- and downsampled to 224
        with torch.no_grad():
            (reference,) = expected(batch)
        torch.testing.assert_close(dinov2.forward(model, batch), reference, rtol=1e-4, atol=1e-4)
    assert model.pos_embed.shape == (1, 1 + 16 * 16, 384)


def test_fd_dinov2_through_evaluation(checkpoint, probe, tmp_path, monkeypatch):
    torch.save(checkpoint, tmp_path / dinov2.WEIGHTS.name)
    monkeypatch.setenv("GANFW_WEIGHTS", str(tmp_path))
    monkeypatch.setenv("GANFW_OFFLINE", "1")
    monkeypatch.setattr(dinov2, "ARCHITECTURE", SMALL)
    dinov2._load.cache_clear()
    data = datasets.from_argument("probe", load_registry())
    images = pixels(10, 16, seed=3).float() / 127.5 - 1
    evaluation = evaluate_images(images, ["fid"], load_registry(), data, features="dinov2")
    assert (evaluation.protocol.features, evaluation.protocol.extractor) == (
        "dinov2",
        "dinov2:dinov2_vitl14_pretrain.pth",
    )
    assert evaluation.protocol.resize == dinov2.RESIZE and evaluation.protocol.classifier is None
    extractor = torch_fidelity_extractor(ReferenceViT(checkpoint, heads=6))
    with torch.no_grad():
        (fake,) = extractor(pixels(10, 16, seed=3))
        (real,) = extractor((data.dataset.held_out().images * 127.5 + 127.5).round().to(torch.uint8))
    expected = fid_statistics_to_metric(fid_features_to_statistics(fake), fid_features_to_statistics(real), False)
    assert evaluation.scores["fid"] == pytest.approx(expected["frechet_inception_distance"], rel=1e-3)
    dinov2._load.cache_clear()


def test_a_checkpoint_of_another_layout_is_refused_in_one_line(checkpoint):
    without = {k: v for k, v in checkpoint.items() if k != "mask_token"}
    with pytest.raises(
        UserError, match=r"^x\.pth: not a DINOv2 pretraining checkpoint \(no mask_token and pos_embed\)$"
    ):
        dinov2.build(without, SMALL, "x.pth")
    with pytest.raises(UserError, match=r"^x\.pth: these weights do not fit DINOv2 vit_base_patch14_dinov2 \("):
        dinov2.build(dict(checkpoint), "vit_base_patch14_dinov2", "x.pth")


def test_missing_weights_say_where_to_put_which_file(tmp_path, monkeypatch):
    monkeypatch.delenv("GANFW_WEIGHTS", raising=False)
    monkeypatch.setenv("GANFW_OFFLINE", "1")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    with pytest.raises(UserError) as caught:
        dinov2.load_dinov2()
    assert str(caught.value) == (
        "DINOv2 ViT-L/14 weights are not on this machine (GANFW_OFFLINE=1): put dinov2_vitl14_pretrain.pth "
        f"(from {dinov2.WEIGHTS.url}) in {tmp_path / 'cache' / 'ganfw' / 'weights'}"
    )
