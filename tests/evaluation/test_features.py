"""Feature spaces: where the features and the class logits come from (the judge, a network, a
network's own classifier), how the reference caches and protocols name them, and ``auto``."""

from __future__ import annotations

from pathlib import Path

import torch

from ganfw.evaluation import datasets
from ganfw.evaluation.cli import default_resamples
from ganfw.evaluation.features import FeatureSpace, resolve
from ganfw.evaluation.judge import load_judge
from ganfw.evaluation.judges import SHIPPED
from ganfw.evaluation.network import Network
from ganfw.plugins import load_registry


def stub_network(classifier: bool) -> Network:
    """A network whose features are each image's channel means (B, 3) and whose logits, if any,
    are its pixel sums (B, 1)."""

    def run(pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        values = pixels.float()
        return values.mean((2, 3)), values.sum((1, 2, 3))[:, None] if classifier else None

    return Network("stub", Path("stub-1234.pth"), "ab" * 32, "none: as they are", run)


def images(n: int = 5) -> torch.Tensor:
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1


def test_a_network_sees_uint8_rgb_and_its_classifier_gives_the_logits_only_when_asked():
    judge = load_judge(SHIPPED / "mnist.safetensors")
    x = images()
    pixels = (x * 127.5 + 127.5).round().clamp(0, 255)  # as the network receives them, grey made RGB
    with_judge = FeatureSpace("inception", judge, stub_network(classifier=True))
    embedded = with_judge.embed(x, keep_images=True)
    torch.testing.assert_close(embedded.features, pixels.mean((2, 3)).expand(-1, 3))
    assert embedded.logits.shape == (5, 10) and torch.equal(embedded.images, x)  # the judge's classes
    assert (with_judge.classifier, with_judge.class_names) == ("judge:mnist", tuple(str(d) for d in range(10)))
    own = FeatureSpace("inception", None, stub_network(classifier=True), network_logits=True)
    embedded = own.embed(x)
    torch.testing.assert_close(embedded.logits, 3 * pixels.sum((1, 2, 3))[:, None])
    assert embedded.images is None and (own.classifier, own.class_names) == ("stub:stub-1234.pth", ())
    none = FeatureSpace("dinov2", None, stub_network(classifier=False))
    assert none.embed(x).logits.shape == (5, 0) and none.classifier is None


def test_cache_keys_and_protocols_name_every_network_involved():
    judge = load_judge(SHIPPED / "mnist.safetensors")
    spaces = [
        FeatureSpace("judge", judge),
        FeatureSpace("inception", judge, stub_network(True)),
        FeatureSpace("inception", None, stub_network(True)),
        FeatureSpace("inception", None, stub_network(True), network_logits=True),
    ]
    assert len({space.key for space in spaces}) == len(spaces)
    assert spaces[0].extractor() == {
        "extractor": "judge:mnist",
        "extractor_hash": judge.hash,
        "resize": None,
        "classifier": "judge:mnist",
        "judge_hash": judge.hash,
    }
    assert spaces[3].extractor() == {
        "extractor": "stub:stub-1234.pth",
        "extractor_hash": "ab" * 32,
        "resize": "none: as they are",
        "classifier": "stub:stub-1234.pth",
        "judge_hash": None,
    }


def test_auto_is_the_judge_where_the_dataset_has_one_else_inception(probe, mnist_data):
    assert resolve("auto", datasets.from_argument("probe", load_registry())) == "inception"
    assert resolve("auto", mnist_data) == "judge"
    assert resolve("dinov2", datasets.from_argument("probe", load_registry())) == "dinov2"


def test_fids_interval_is_bootstrapped_by_default_only_in_the_judges_small_space():
    judge = load_judge(SHIPPED / "mnist.safetensors")
    assert default_resamples(FeatureSpace("judge", judge)) == 200
    assert default_resamples(FeatureSpace("inception", judge, stub_network(True))) == 0
