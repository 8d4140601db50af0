"""The Python API (:mod:`ganfw.api`): every example of docs/python-api.md runs, in order, and does
what it says; then overrides, a conditional generator's labels, scores (the same as ``ganfw
evaluate``'s), Ctrl-C, the progress display and the lazy exports of ``ganfw``, each on its own."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import types
from pathlib import Path

import pytest
import torch
from PIL import Image

from ganfw import api
from ganfw.distributed import Ranks
from ganfw.errors import UserError
from ganfw.evaluation.evaluate import Evaluation
from ganfw.progress import PlainReporter, RichReporter, SilentReporter
from ganfw.recipe import Recipe
from ganfw_plugins.mlp import CMLPGeneratorParams, MLPGeneratorParams
from ganfw_plugins.mlp.models import ConditionalMLPGenerator, MLPGenerator
from tests.helpers.cli import RECIPES, REPO, cli
from tests.helpers.conditional import CLASS_NAMES, recipe_text, write_checkpoint
from tests.helpers.recipes import tiny_recipe

DOC = REPO / "docs" / "python-api.md"
QUICK = RECIPES / "mnist_quick.toml"
EXAMPLE = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def doc_examples() -> list[tuple[int, str]]:
    """The ``python`` blocks of the doc, in order, with the line each one's code starts on."""
    text = DOC.read_text(encoding="utf-8")
    return [(text.count("\n", 0, m.start(1)), m.group(1)) for m in EXAMPLE.finditer(text)]


# --------------------------------------------------------------------------- the doc
def test_every_example_of_the_doc_runs_and_does_what_it_says(
    tmp_path, monkeypatch, capsys, mnist_root, reference_cache
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GANFW_DATA", str(mnist_root))
    examples = doc_examples()
    assert len(examples) >= 8
    namespace: dict = {}
    for line, code in examples:  # tracebacks point at the doc's own lines
        exec(compile("\n" * line + code, str(DOC), "exec"), namespace)
    out = capsys.readouterr().out
    ns = types.SimpleNamespace(**namespace)

    assert isinstance(ns.recipe, Recipe) and ns.recipe.train.epochs == 1 and ns.recipe.data_limit == 512
    assert "train.epochs (from --set train.epochs=-1)" in out  # the bad override, printed as one line
    # the run, trained for an epoch and resumed for a second
    assert isinstance(ns.run, api.Run) and ns.run.path == Path("runs/quick")
    assert [r["epoch"] for r in ns.run.metrics("epoch")] == [1, 2]
    assert len(ns.run.metrics("eval")) == 2 and ns.run.metrics("start") and ns.steps == ns.run.metrics("step")
    assert all("event" not in r for r in ns.steps) and ns.steps[-1]["step"] == 8
    assert ns.run.checkpoint == Path("runs/quick/checkpoints/step_00000008.safetensors")
    assert [p.name for p in ns.run.sample_grids] == ["image_at_epoch_0001.png", "image_at_epoch_0002.png"]
    assert ns.run.report == Path("runs/quick/report.html")
    # unconditional samples
    assert ns.samples.images.shape == (64, 1, 28, 28) and ns.samples.labels is None
    assert ns.samples.images.min() >= -1 and ns.samples.images.max() <= 1
    assert Image.open(tmp_path / "grid.png").size == (8 * (28 * 4 + 2) + 2,) * 2
    # conditional samples
    assert ns.digits.num_classes == 10 and ns.digits.class_names == tuple(CLASS_NAMES)
    assert ns.sevens.labels.tolist() == [7] * 8 and ns.sevens.class_names == tuple(CLASS_NAMES)
    assert ns.each.labels.tolist() == list(range(10)) * 2
    assert Image.open(tmp_path / "digits.png").size == (10 * (28 * 4 + 2) + 2, 2 * (28 * 4 + 2) + 2)
    assert ns.mixed.labels.shape == (16,) and ns.mixed.labels.dtype == torch.int64
    # scores
    assert isinstance(ns.scores, Evaluation) and {"fid", "kid", "precision", "recall"} <= set(ns.scores.scores)
    assert ns.scores.intervals["fid"].low <= ns.scores.scores["fid"] <= ns.scores.intervals["fid"].high
    assert (ns.scores.protocol.dataset, ns.scores.protocol.n_generated) == ("mnist", 500)
    assert 0 <= ns.per_class.scores["conditional_accuracy"] <= 1
    assert set(ns.per_class.details["conditional-accuracy"]["per_class_accuracy"]) == set(CLASS_NAMES)


# --------------------------------------------------------------------------- recipes
def test_overrides_given_as_a_dict_are_the_sets_they_stand_for(tmp_path):
    overrides = {
        "train.epochs": 3,
        "optim.generator.betas": (0.5, 0.9),
        "data.root": tmp_path,
        "output": {"dir": "x y", "gif": False},
        "data.name": "mnist",
    }
    lines = api.override_lines(overrides)
    assert lines == [
        "train.epochs=3",
        "optim.generator.betas=[0.5, 0.9]",
        f'data.root="{tmp_path}"',
        'output={"dir" = "x y", "gif" = false}',
        'data.name="mnist"',
    ]
    recipe = api.load_recipe(QUICK, overrides)
    assert recipe.resolved() == api.load_recipe(str(QUICK), lines).resolved()
    assert (recipe.train.epochs, recipe.optim["generator"].betas, recipe.data_root) == (3, [0.5, 0.9], str(tmp_path))
    assert (recipe.output.dir, recipe.output.gif, recipe.output.samples) == ("x y", False, 16)  # the table replaced


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"train.epochz": 1}, r"mnist_quick\.toml: train\.epochz \(from --set train\.epochz=1\): unknown key"),
        ({"train epochs": 1}, r"'train epochs=1' is not of the form dotted\.key=value"),
        ({"train.epochs": None}, r"^overrides: train\.epochs: None has no TOML form"),
        ({"train.device": "gpu\nplease"}, r"train\.device .*'gpu\\nplease' is not auto, cpu"),
        (["train.epochs"], r"'train\.epochs' is not of the form dotted\.key=value"),
    ],
)
def test_a_bad_override_is_one_line(overrides, message):
    with pytest.raises(UserError, match=message) as caught:
        api.load_recipe(QUICK, overrides)
    assert "\n" not in str(caught.value)


def test_overrides_must_be_a_mapping_or_a_list():
    with pytest.raises(TypeError, match="overrides"):
        api.load_recipe(QUICK, "train.epochs=1")


def test_a_missing_recipe_is_one_line():
    with pytest.raises(UserError, match="no_such_recipe.*not found"):
        api.load_recipe("no_such_recipe")


# --------------------------------------------------------------------------- runs
def test_a_run_of_no_directory_is_one_line(tmp_path):
    with pytest.raises(UserError, match="no such run directory"):
        api.Run(tmp_path / "nothing")


def test_ctrl_c_raises_with_the_run_so_far_and_resume_finishes_it(tmp_path, monkeypatch, mnist_root):
    recipe = api.load_recipe(tiny_recipe(tmp_path / "tiny.toml", mnist_root, train={"epochs": 2}))
    with monkeypatch.context() as patch, pytest.raises(api.TrainingInterrupted) as caught:
        patch.setattr(SilentReporter, "update", lambda self, step, record: signal.raise_signal(signal.SIGINT))
        api.train(recipe, out=tmp_path / "run", progress="none")
    run = caught.value.run
    assert isinstance(caught.value, KeyboardInterrupt) and run.path == tmp_path / "run"
    assert run.checkpoint is not None and f"out={str(run.path)!r}, resume=True" in str(caught.value)
    assert run.metrics("step")[-1]["step"] < 4
    resumed = api.train(recipe, out=run.path, resume=True, progress="none")  # the lock was let go
    assert resumed == run and resumed.checkpoint.name == "step_00000004.safetensors"


def test_resume_needs_out():
    with pytest.raises(UserError, match="resume=True needs out="):
        api.train(api.load_recipe(QUICK), resume=True, progress="none")


def test_the_progress_display(monkeypatch):
    with pytest.raises(UserError, match="progress='fancy': choose one of 'auto', 'bar', 'plain', 'none'"):
        api.reporter("fancy", Ranks())  # type: ignore[arg-type]
    assert isinstance(api.reporter("plain", Ranks(rank=1, world=2)), SilentReporter)
    assert isinstance(api.reporter("none", Ranks()), SilentReporter)

    class Terminal:
        def isatty(self) -> bool:
            return True

    class KernelStream(Terminal):  # a Jupyter kernel's stream that says it is a terminal (Spyder's do)
        pass

    monkeypatch.setattr(sys, "stderr", Terminal())
    assert isinstance(api.reporter("auto", Ranks()), RichReporter)
    monkeypatch.setitem(sys.modules, "ipykernel.iostream", types.SimpleNamespace(OutStream=KernelStream))
    monkeypatch.setattr(sys, "stderr", KernelStream())
    assert isinstance(api.reporter("auto", Ranks()), PlainReporter)


# --------------------------------------------------------------------------- generators
@pytest.fixture
def conditional_checkpoint(tmp_path: Path, mnist_root: Path) -> tuple[Path, ConditionalMLPGenerator]:
    """A run holding an untrained conditional MLP generator of MNIST's 10 classes, and the net."""
    params = {"latent_dim": 4, "hidden": [8], "embed_dim": 3}
    torch.manual_seed(0)
    generator = ConditionalMLPGenerator(CMLPGeneratorParams(**params), (1, 28, 28), num_classes=10).eval()
    write_checkpoint(
        tmp_path / "run",
        recipe_text({"name": "cmlp", "params": params}, mnist_root),
        {"generator": generator},
        num_classes=10,
        class_names=CLASS_NAMES,
    )
    return tmp_path / "run", generator


def test_a_conditional_generator_samples_the_labels_asked_for(conditional_checkpoint):
    run, net = conditional_checkpoint
    loaded = api.load_generator(api.Run(run))
    assert (loaded.num_classes, loaded.class_names) == (10, tuple(CLASS_NAMES))
    assert loaded.checkpoint == api.Run(run).checkpoint
    threes = loaded.sample(5, seed=1, label=3)
    assert threes.labels.tolist() == [3] * 5 and threes.class_names == tuple(CLASS_NAMES)
    z = net.sample_latent(5, device="cpu", generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.allclose(threes.images, net(z, torch.full((5,), 3)).clamp(-1, 1))
    assert torch.equal(loaded.sample(5, seed=1, label="3").images, threes.images)  # a class name
    assert loaded.sample(12, label="all").labels.tolist() == list(range(10)) * 2
    uniform = api.load_generator(loaded.checkpoint).sample(6)
    assert uniform.labels.shape == (6,) and uniform.labels.dtype == torch.int64
    with pytest.raises(UserError, match=r"^label 10: not a class of the generator in .*class index 0\.\.9"):
        loaded.sample(4, label=10)
    with pytest.raises(UserError, match=r"^n=0: ask for 1 image or more"):
        loaded.sample(0)


def test_an_unconditional_generator_refuses_a_label(tmp_path, mnist_root):
    params = {"latent_dim": 4, "hidden": [8]}
    generator = MLPGenerator(MLPGeneratorParams(**params), image_shape=(1, 28, 28))
    write_checkpoint(
        tmp_path / "run",
        recipe_text({"name": "mlp", "params": params}, mnist_root),
        {"generator": generator},
        num_classes=10,
        class_names=CLASS_NAMES,
    )
    loaded = api.load_generator(tmp_path / "run")
    samples = loaded.sample(3)
    assert samples.labels is None and samples.class_names == ()
    with pytest.raises(UserError, match=r"^label 7: the generator in .* is not conditional .*; leave label out$"):
        loaded.sample(3, label=7)


def test_no_checkpoint_is_one_line(tmp_path):
    with pytest.raises(UserError, match="no such run directory or checkpoint"):
        api.load_generator(tmp_path / "missing.safetensors")


# --------------------------------------------------------------------------- scores
def test_real_digits_score_far_better_than_noise(reference_cache, train_digits):
    real = api.score(train_digits[:500], dataset="mnist", metrics=["fid"], bootstrap=0)
    noise = api.score(torch.rand(500, 1, 28, 28) * 2 - 1, dataset="mnist", metrics=["fid"], bootstrap=0)
    assert real.scores["fid"] * 10 < noise.scores["fid"]
    pixels = ((train_digits[:500, 0] + 1) * 127.5).round().to(torch.uint8).numpy()  # (N, H, W) uint8, as numpy
    assert api.score(pixels, dataset="mnist", metrics=["fid"], bootstrap=0).scores["fid"] == pytest.approx(
        real.scores["fid"], rel=1e-3
    )
    first = api.score(train_digits, n=500, dataset="mnist", metrics=["fid"], bootstrap=0)  # the first n
    assert first.scores == real.scores and first.protocol.n_generated == 500


def test_a_score_is_what_ganfw_evaluate_reports(capsys, tmp_path, conditional_checkpoint, reference_cache):
    run, _ = conditional_checkpoint
    code, _, err = cli(
        capsys,
        "evaluate",
        str(run),
        "--n",
        "100",
        "--bootstrap",
        "20",
        "--seed",
        "3",
        "--json",
        str(tmp_path / "scores.json"),
    )
    assert code == 0, err
    reported = json.loads((tmp_path / "scores.json").read_text())
    for target in (run, api.Run(run), api.load_generator(run)):
        scores = api.score(target, n=100, bootstrap=20, seed=3)
        assert scores.scores == reported["scores"] and "conditional_accuracy" in scores.scores
        assert {k: v for k, v in scores.as_json().items() if k != "seconds"} == {
            k: v for k, v in reported.items() if k not in ("seconds", "target")
        }


def test_images_scored_with_their_labels(reference_cache, conditional_checkpoint):
    loaded = api.load_generator(conditional_checkpoint[0])
    samples = loaded.sample(50, label="all")
    from_samples = api.score(samples, dataset="mnist", metrics=["conditional-accuracy"])
    given = api.score(samples.images, labels=samples.labels.numpy(), dataset="mnist", metrics=["conditional-accuracy"])
    assert from_samples.scores == given.scores


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: api.score(torch.zeros(20, 1, 28, 28)), r"^images need dataset=, the data to score them against"),
        (lambda: api.score(torch.zeros(20, 1, 28, 28), dataset="mnist", n=0), r"^n=0: ask for 1 image or more"),
        (lambda: api.score(torch.zeros(20, 1, 28, 28), dataset="mnist", bootstrap=-1), r"^bootstrap=-1"),
        (
            lambda: api.score(torch.zeros(20, 3, 28, 28), dataset="mnist"),
            r"^images: expected images of shape \(N, 1, 28, 28\)",
        ),
        (
            lambda: api.score(torch.zeros(20, 1, 28, 28), dataset="mnist", labels=torch.zeros(3, dtype=torch.int64)),
            r"^labels: expected one integer label per image, shape \(20,\)",
        ),
        (lambda: api.score("no/such/run", labels=torch.zeros(3)), r"^labels= goes with images in memory"),
    ],
)
def test_scoring_mistakes_are_one_line(reference_cache, call, message):
    with pytest.raises(UserError, match=message):
        call()


# --------------------------------------------------------------------------- the package
def test_importing_ganfw_does_not_import_torch_until_the_api_is_used():
    code = (
        "import sys, ganfw; assert 'torch' not in sys.modules; train = ganfw.train; "
        "assert 'torch' in sys.modules; import ganfw.api; assert train is ganfw.api.train; "
        "assert set(ganfw._API) <= set(ganfw.api.__all__)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        import ganfw

        ganfw.nothing  # noqa: B018
