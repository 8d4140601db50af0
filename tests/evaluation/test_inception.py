"""``--features inception`` against torch-fidelity's own code, with a weights file of its layout
(randomly initialised with seed 0: the real one cannot be downloaded here), and the paper
protocol: the same quantisation, resizing, normalisation and pool3 layer, so the same features,
FID, KID and Inception Score."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import torch_fidelity
from rich.console import Console
from torch.utils.data import Dataset
from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric
from torch_fidelity.metric_isc import isc_features_to_metric

from ganfw.evaluation import datasets
from ganfw.evaluation.cli import evaluate_command
from ganfw.evaluation.inception import RESIZE, load_inception
from ganfw.evaluation.network import network_device
from ganfw.evaluation.weights import sha256
from ganfw.plugins import load_registry
from ganfw.sampling import draw, load_saved
from tests.helpers.cli import cli

#: Generated images scored (the fewest an evaluation takes).
N = 10


def quantise(images: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) in [-1, 1] -> (N, 3, H, W) uint8 as torch-fidelity's users feed it:
    ``round(127.5 x + 127.5)``, grey copied to RGB."""
    return (images * 127.5 + 127.5).round().clamp(0, 255).to(torch.uint8).expand(-1, 3, -1, -1)


class Pixels(Dataset):
    """uint8 images (3, H, W), one an item, as torch-fidelity's inputs."""

    def __init__(self, images: torch.Tensor):
        self.pixels = quantise(images)

    def __len__(self) -> int:
        return len(self.pixels)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.pixels[i]


def fidelity_network(weights: Path) -> Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    """torch-fidelity's Inception from ``weights``, on the device ganfw's runs on (the same kernels):
    uint8 (N, 3, H, W) -> pool3 features (N, 2048), logits (N, 1008) on the CPU."""
    device = network_device()
    net = FeatureExtractorInceptionV3(
        "inception-v3-compat", ["2048", "logits_unbiased"], feature_extractor_weights_path=str(weights)
    ).to(device)
    return lambda pixels: tuple(out.cpu() for out in net(pixels.to(device)))


@pytest.fixture(scope="module")
def generated(probe_site, probe_run) -> torch.Tensor:
    """The N images ``ganfw evaluate RUN --n N --seed 0`` scores, (N, 3, 16, 16) in [-1, 1]."""
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(probe_site))
        return draw(load_saved(probe_run, load_registry()).generator, N, 0).images


def real(split: str) -> torch.Tensor:
    """The probe dataset's held-out or training images (the plugin on sys.path)."""
    dataset = datasets.from_argument("probe", load_registry()).dataset
    return dataset.held_out().images if split == "held-out" else dataset.load()


def test_features_and_logits_are_torch_fidelitys(offline_weights, generated):
    network = load_inception()
    assert network.weights == offline_weights and network.hash == sha256(offline_weights)
    grey = torch.rand(4, 1, 20, 24, generator=torch.Generator().manual_seed(1)) * 2 - 1
    reference = fidelity_network(offline_weights)
    for images in (generated[:4], grey):
        features, logits = network(images)
        expected_features, expected_logits = reference(quantise(images))
        torch.testing.assert_close(features, expected_features, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(logits, expected_logits, rtol=1e-5, atol=1e-5)
        assert features.shape == (4, 2048) and logits.shape == (4, 1008)
        assert features.std(0).mean() > 0.01 * features.mean()  # the random network still tells images apart


def test_ganfw_evaluate_run_equals_torch_fidelity_calculate_metrics(
    capsys, probe, probe_run, offline_weights, generated, tmp_path
):
    out = tmp_path / "scores.json"
    code, stdout, stderr = cli(
        capsys, "evaluate", str(probe_run), "--features", "inception", "--n", str(N), "--seed", "0",
        "--metrics", "fid", "--bootstrap", "0", "--json", str(out),
    )  # fmt: skip
    assert code == 0, stderr
    report = json.loads(out.read_text())
    expected = torch_fidelity.calculate_metrics(
        input1=Pixels(generated),
        input2=Pixels(real("held-out")),
        fid=True,
        feature_extractor="inception-v3-compat",
        feature_extractor_weights_path=str(offline_weights),
        cuda=network_device().type == "cuda",  # where ganfw's network runs
        cache=False,
        save_cpu_ram=True,  # no data-loading worker processes
        verbose=False,
    )
    assert report["scores"]["fid"] == pytest.approx(expected["frechet_inception_distance"], rel=1e-4)
    assert report["protocol"] == {
        "protocol": "quick",
        "dataset": "probe",
        "split": "held-out",
        "features": "inception",
        "extractor": "inception:weights-inception-2015-12-05-6726825d.pth",
        "extractor_hash": sha256(offline_weights),
        "resize": RESIZE,
        "classifier": None,
        "judge_hash": None,
        "n_real": 6,
        "n_generated": N,
        "seed": 0,
    }
    assert "torch-fidelity" in stdout and "bilinear as TensorFlow 1.x to 299x299" in " ".join(stdout.split())
    # 10 and 6 images for 2048 features: FID's covariances are singular, and the printed warning says so.
    assert any(w.startswith("fid: 10 generated images for 2048-dimensional features") for w in report["warnings"])
    assert "warning: fid: 6 reference images for 2048-dimensional features" in " ".join(stdout.split())


def test_paper_protocol_scores_against_the_training_images_with_inceptions_classifier(
    probe, probe_run, offline_weights, generated, tmp_path
):
    evaluation = evaluate_command(
        probe_run,
        load_registry(),
        n=N,
        metrics=None,
        seed=0,
        features=None,
        dataset=None,
        data_root=None,
        bootstrap=0,
        json_out=tmp_path / "paper.json",
        console=(console := Console(file=io.StringIO(), width=200)),
        protocol="paper",
    )
    protocol = evaluation.protocol
    assert (protocol.protocol, protocol.split, protocol.features, protocol.n_real) == ("paper", "train", "inception", 8)
    assert protocol.classifier == "inception:weights-inception-2015-12-05-6726825d.pth" and protocol.resize == RESIZE
    assert set(evaluation.scores) == {
        "fid",
        "kid",
        "kid_std",
        "is",
        "is_std",
        "precision",
        "recall",
        "density",
        "coverage",
    }
    network = fidelity_network(offline_weights)
    fake, logits = network(quantise(generated))
    train, _ = network(quantise(real("train")))
    stats = fid_statistics_to_metric(fid_features_to_statistics(fake), fid_features_to_statistics(train), False)
    assert evaluation.scores["fid"] == pytest.approx(stats["frechet_inception_distance"], rel=1e-4)
    # Ten groups of one image: 1, as torch-fidelity's IS of Inception's logits (tests/plugins/metrics
    # compare the formula on larger groups; test_features that the logits are the network's).
    assert evaluation.scores["is"] == pytest.approx(isc_features_to_metric(logits, splits=10)["inception_score_mean"])
    assert json.loads((tmp_path / "paper.json").read_text())["protocol"]["split"] == "train"
    assert "paper protocol: 10 images vs probe train (8)" in " ".join(console.file.getvalue().split())


def test_paper_protocol_refuses_the_metrics_of_the_datasets_classes(probe, probe_run, offline_weights):
    from ganfw.errors import UserError

    with pytest.raises(UserError, match="metric 'class-coverage' reads the dataset's classes, but under the paper"):
        evaluate_command(
            probe_run,
            load_registry(),
            n=N,
            metrics="fid,class-coverage",
            seed=0,
            features=None,
            dataset=None,
            data_root=None,
            bootstrap=0,
            json_out=None,
            console=Console(file=io.StringIO()),
            protocol="paper",
        )
