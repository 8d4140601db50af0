"""The shipped MNIST judge, the cached reference set, and the metrics on real MNIST and on noise."""

from __future__ import annotations

import hashlib
import json

import pytest
import torch
from safetensors import safe_open

from ganfw.errors import UserError
from ganfw.evaluation import datasets, reference
from ganfw.evaluation.evaluate import evaluate_generator, evaluate_images
from ganfw.evaluation.features import feature_space
from ganfw.evaluation.judge import judge_images, load_judge
from ganfw.evaluation.judges import SHIPPED, find_judge
from ganfw.evaluation.train_judge import accuracy, train
from ganfw.plugins import load_registry
from ganfw.sampling import load_generator
from ganfw_plugins.dcgan import DCGANGeneratorParams
from ganfw_plugins.dcgan.models import DCGANGenerator
from ganfw_plugins.mnist.dataset import load_labels

ALL = ["fid", "kid", "inception-score", "class-coverage", "precision-recall"]
#: The shipped MNIST judge.
MNIST_JUDGE = SHIPPED / "mnist.safetensors"


@pytest.mark.parametrize("key, floor", [("mnist", 0.99), ("fashion-mnist", 0.89)])
def test_shipped_judges_are_small_accurate_and_found_for_their_dataset(mnist_root, fashion_mnist_root, key, floor):
    path = SHIPPED / f"{key}.safetensors"
    assert path.stat().st_size < 1_000_000
    data = datasets.from_argument(key, load_registry(), str(mnist_root if key == "mnist" else fashion_mnist_root))
    split = data.dataset.held_out()
    judge = find_judge(data)
    assert judge is not None and judge.path == path and judge.hash == hashlib.sha256(path.read_bytes()).hexdigest()
    assert accuracy(judge.net, split.images[:2000], split.labels[:2000]) >= floor
    with safe_open(str(path), framework="pt") as f:
        record = json.loads(f.metadata()["judge"])
    assert (
        record["dataset"] == key
        and record["image_shape"] == [1, 28, 28]
        and record["classes"] == list(data.dataset.class_names)
    )
    assert record["accuracy"] >= floor and record["split"] == "test" and record["n_held_out"] == 10000
    assert (
        record["training"]["seed"] == 0
        and record["training"]["epochs"] == 12
        and judge.info.accuracy == record["accuracy"]
    )


def test_judge_features_have_unit_mean_square(train_digits):
    features, logits = judge_images(load_judge(MNIST_JUDGE).net, train_digits)
    assert features.shape == (2000, 128) and logits.shape == (2000, 10)
    assert features.square().mean().item() == pytest.approx(1.0, rel=0.05)


def test_judge_training_is_deterministic_given_the_seed(train_digits, mnist_root):
    labels = load_labels(mnist_root, train=True)[:256]

    def weights(seed: int) -> dict[str, torch.Tensor]:
        return train(train_digits[:256], labels, 10, seed=seed, epochs=1, log=lambda _: None).state_dict()

    first, again, other = weights(1), weights(1), weights(2)
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert not torch.equal(first["head.1.weight"], other["head.1.weight"])


# --------------------------------------------------------------------------- reference cache
def test_reference_features_are_cached_under_the_dataset_and_judge_hash(reference_cache, mnist_data, monkeypatch):
    space = feature_space("judge", mnist_data)
    path = reference.cache_path(space.key, mnist_data, "held-out")
    assert path.is_file() and path.parent == reference_cache / "ganfw" / "reference"
    assert path.name == f"mnist-judge-{hashlib.sha256(MNIST_JUDGE.read_bytes()).hexdigest()[:16]}.safetensors"

    def no_data():
        raise AssertionError("the cached features were computed again")

    monkeypatch.setattr(mnist_data.dataset, "held_out", no_data)
    cached = reference.reference_embedding(space, mnist_data)
    assert cached.embedding.features.shape == (10000, 128) and cached.embedding.logits.shape == (10000, 10)


def test_a_corrupt_cache_file_is_computed_again(tmp_path, monkeypatch, mnist_data):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    space = feature_space("judge", mnist_data)
    path = reference.cache_path(space.key, mnist_data, "held-out")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not safetensors")
    computed = reference.reference_embedding(space, mnist_data)
    assert computed.embedding.features.shape == (10000, 128)
    again = reference.reference_embedding(space, mnist_data)  # now read back
    assert again.embedding.features.equal(computed.embedding.features) and again.split == computed.split


def test_missing_mnist_for_the_reference_is_one_user_error(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr("torchvision.datasets.MNIST.download", lambda self: (_ for _ in ()).throw(OSError("offline")))
    data = datasets.from_argument("mnist", load_registry(), str(tmp_path / "nodata"))
    with pytest.raises(UserError, match="MNIST not found in"):
        reference.reference_embedding(feature_space("judge", data), data)


# --------------------------------------------------------------------------- floors and ceilings
def test_real_digits_score_at_the_floor_and_noise_at_the_ceiling(reference_cache, mnist_data, train_digits):
    registry = load_registry()
    real = evaluate_images(train_digits[:1000], ALL, registry, mnist_data).scores
    noise = torch.rand(1000, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
    bad = evaluate_images(noise, ALL, registry, mnist_data).scores
    assert real["fid"] < 3 and bad["fid"] > 100 * real["fid"]
    assert abs(real["kid"]) < 0.01 and bad["kid"] > 1
    assert real["is"] > 9 and real["coverage_entropy"] > 3.3 and real["classes_missing"] == 0
    assert real["precision"] > 0.6 and real["recall"] > 0.6 and 0.7 < real["density"] < 1.3 and real["coverage"] > 0.6
    assert bad["precision"] < 0.01 and bad["recall"] < 0.01 and bad["coverage"] < 0.01


def test_metrics_are_seeded_and_leave_the_global_generator_alone(reference_cache, mnist_data, train_digits):
    torch.manual_seed(123)
    state = torch.get_rng_state()
    a = evaluate_images(train_digits[:300], ["kid", "inception-score"], load_registry(), mnist_data, seed=5).scores
    assert torch.equal(torch.get_rng_state(), state)
    b = evaluate_images(train_digits[:300], ["kid", "inception-score"], load_registry(), mnist_data, seed=5).scores
    c = evaluate_images(train_digits[:300], ["kid", "inception-score"], load_registry(), mnist_data, seed=6).scores
    assert a == b and a["kid"] != c["kid"]


def test_evaluate_generator_samples_in_eval_mode_and_restores_the_mode(reference_cache, mnist_data):
    torch.manual_seed(0)
    generator = DCGANGenerator(DCGANGeneratorParams(widths=[16, 8, 4], latent_dim=8), image_shape=(1, 28, 28)).train()
    seen = []
    generator.register_forward_pre_hook(lambda module, args: seen.append(module.training))
    state = torch.get_rng_state()
    evaluation = evaluate_generator(generator, ALL, 200, load_registry(), mnist_data, seed=1)
    scores = evaluation.scores
    assert seen and not any(seen) and generator.training
    assert torch.equal(torch.get_rng_state(), state)
    assert set(scores) == {
        "fid",
        "kid",
        "kid_std",
        "is",
        "is_std",
        "coverage_entropy",
        "classes_missing",
        "precision",
        "recall",
        "density",
        "coverage",
    }
    assert all(isinstance(v, float) for v in scores.values())
    assert scores == evaluate_generator(generator, ALL, 200, load_registry(), mnist_data, seed=1).scores
    assert (evaluation.protocol.dataset, evaluation.protocol.n_real, evaluation.protocol.n_generated) == (
        "mnist",
        10000,
        200,
    )


def test_evaluate_generator_asks_a_conditional_generator_for_uniform_labels(
    reference_cache, mnist_data, templates_plugin, conditional_run
):
    registry = load_registry()
    generator = load_generator(conditional_run, registry).train()
    asked = []
    generator.register_forward_pre_hook(lambda module, args: asked.append(args[1]))
    scores = evaluate_generator(
        generator, ["conditional-accuracy", "class-coverage"], 300, registry, mnist_data, seed=2
    ).scores
    labels = asked[0]  # one batch
    assert len(asked) == 1 and len(labels) == 300 and set(labels.tolist()) == set(range(10)) and generator.training
    assert scores["conditional_accuracy"] == 1.0 and scores["classes_missing"] == 0
    again = evaluate_generator(generator, ["conditional-accuracy"], 300, registry, mnist_data, seed=2).scores
    assert len(asked) == 2 and torch.equal(asked[1], labels) and again["conditional_accuracy"] == 1.0  # seeded


def test_two_metrics_reporting_one_key_are_refused(reference_cache, mnist_data, train_digits):
    with pytest.raises(UserError, match="both report 'fid'"):
        evaluate_images(train_digits[:50], ["fid", "metrics:fid"], load_registry(), mnist_data)
