"""``ganfw sample`` of a class-conditional generator: ``--label K``, ``--label all``, labels
saved with ``.npy``/``.pt`` outputs, the sampling generator a checkpoint names, and the one-line
refusals (an unconditional generator, a class that does not exist)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors import safe_open

from ganfw.checkpoint import list_checkpoints
from ganfw.evaluation.images import read_grid
from ganfw.plugins import load_registry
from ganfw.sampling import load_saved
from ganfw_plugins.mlp import CMLPGeneratorParams
from ganfw_plugins.mlp.models import ConditionalMLPGenerator
from tests.helpers.cli import cli
from tests.helpers.conditional import CLASS_NAMES, recipe_text, template_generator, write_checkpoint
from tests.helpers.recipes import tiny_recipe


def sample(capsys, *args: str) -> tuple[int, str]:
    """``ganfw sample ARGS`` in-process: exit status and stderr (stdout must stay empty)."""
    code, out, err = cli(capsys, "sample", *args)
    assert out == ""
    return code, err


def test_one_class(capsys, templates_plugin, conditional_run, digit_templates, tmp_path):
    code, err = sample(capsys, str(conditional_run), "--label", "7", "--n", "64", "--out", str(tmp_path / "sevens.npy"))
    assert code == 0, err
    assert (
        err.strip()
        == f"wrote 64 images of class 7 to {tmp_path / 'sevens.npy'} (labels in {tmp_path / 'sevens.labels.npy'})"
    )
    images, labels = np.load(tmp_path / "sevens.npy"), np.load(tmp_path / "sevens.labels.npy")
    assert images.shape == (64, 1, 28, 28) and images.dtype == np.float32
    assert labels.dtype == np.int64 and labels.tolist() == [7] * 64
    assert torch.allclose(torch.from_numpy(images), digit_templates[7].expand(64, -1, -1, -1), atol=0.01)
    assert len({images[i].tobytes() for i in range(64)}) == 64  # each from its own noise


def test_a_class_by_name_and_png_and_pt(capsys, templates_plugin, conditional_run, digit_templates, tmp_path):
    code, err = sample(capsys, str(conditional_run), "--label", "3", "--n", "9", "--out", str(tmp_path / "threes.png"))
    assert code == 0 and "9 images of class 3" in err
    assert torch.allclose(
        read_grid(tmp_path / "threes.png", (1, 28, 28)), digit_templates[3].expand(9, -1, -1, -1), atol=0.02
    )
    code, err = sample(capsys, str(conditional_run), "-l", "3", "-n", "5", "--out", str(tmp_path / "threes.pt"))
    assert code == 0, err
    saved = torch.load(tmp_path / "threes.pt", weights_only=True)
    assert set(saved) == {"images", "labels", "class_names"} and saved["class_names"] == CLASS_NAMES
    assert saved["images"].shape == (5, 1, 28, 28) and saved["labels"].tolist() == [3] * 5


def test_all_classes_one_column_each(capsys, templates_plugin, conditional_run, digit_templates, tmp_path):
    code, err = sample(capsys, str(conditional_run), "--label", "all", "--n", "25", "--out", str(tmp_path / "all.png"))
    assert code == 0, err
    assert "wrote 30 images (3 of each of the 10 classes, one column each)" in err  # 25 rounded up to 3 rows
    from PIL import Image

    assert Image.open(tmp_path / "all.png").size == (10 * (28 * 4 + 2) + 2, 3 * (28 * 4 + 2) + 2)
    cells = read_grid(tmp_path / "all.png", (1, 28, 28))
    assert torch.allclose(cells, digit_templates.repeat(3, 1, 1, 1), atol=0.02)  # column c holds class c
    code, err = sample(capsys, str(conditional_run), "--label", "all", "--n", "1", "--out", str(tmp_path / "all.npy"))
    assert code == 0 and np.load(tmp_path / "all.labels.npy").tolist() == list(range(10))


def test_no_label_draws_uniform_classes_and_saves_them(
    capsys, templates_plugin, conditional_run, digit_templates, tmp_path
):
    out = tmp_path / "any.npy"
    code, err = sample(capsys, str(conditional_run), "--n", "200", "--seed", "4", "--out", str(out))
    assert code == 0 and "200 images of classes drawn uniformly" in err
    images, labels = torch.from_numpy(np.load(out)), torch.from_numpy(np.load(tmp_path / "any.labels.npy"))
    assert set(labels.tolist()) == set(range(10))
    assert torch.allclose(images, digit_templates[labels], atol=0.01)
    first = images.clone()
    sample(capsys, str(conditional_run), "--n", "200", "--seed", "4", "--out", str(out))
    assert torch.equal(torch.from_numpy(np.load(out)), first)  # seeded
    sample(capsys, str(conditional_run), "--n", "200", "--seed", "5", "--out", str(out))
    assert not torch.equal(torch.from_numpy(np.load(tmp_path / "any.labels.npy")), labels)


def test_an_unconditional_generator_refuses_a_label(capsys, unconditional_run, tmp_path):
    out = tmp_path / "x.npy"
    code, err = sample(capsys, str(unconditional_run), "--label", "7", "--out", str(out))
    assert code == 2 and err.count("\n") == 1 and not out.exists()
    checkpoint = list_checkpoints(unconditional_run / "checkpoints")[-1]
    assert err.strip() == (
        f"error: --label 7: the generator in {checkpoint} is not conditional "
        "(it draws no particular class); leave --label out"
    )
    (tmp_path / "x.labels.npy").write_bytes(b"stale")
    code, err = sample(capsys, str(unconditional_run), "--n", "3", "--out", str(out))
    assert code == 0 and err.strip() == f"wrote 3 images to {out}"
    assert np.load(out).shape == (3, 1, 28, 28) and not (tmp_path / "x.labels.npy").exists()
    code, err = sample(capsys, str(unconditional_run), "--n", "3", "--out", str(tmp_path / "x.pt"))
    assert code == 0 and isinstance(torch.load(tmp_path / "x.pt", weights_only=True), torch.Tensor)


@pytest.mark.parametrize("label", ["10", "-1", "seven", "", "1.5"])
def test_a_class_that_does_not_exist_is_one_line_naming_the_valid_ones(
    capsys, templates_plugin, conditional_run, tmp_path, label
):
    code, err = sample(capsys, str(conditional_run), "--label", label, "--out", str(tmp_path / "x.png"))
    assert code == 2 and err.count("\n") == 1, err
    assert err.startswith(f"error: --label {label}: not a class of the generator in ")
    assert err.strip().endswith("use a class index 0..9, a class name (0, 1, 2, 3, 4, 5, 6, 7, 8, 9) or 'all'")
    assert not (tmp_path / "x.png").exists()


def test_the_checkpoints_sampler_is_the_generator_sampled(templates_plugin, digit_templates, mnist_root, tmp_path):
    recipe = recipe_text({"name": "templates"}, mnist_root)
    trained, ema = template_generator(torch.zeros(10, 1, 28, 28)), template_generator(digit_templates)
    modules = {"generator": trained, "callbacks.0.ema.generator": ema}
    write_checkpoint(
        tmp_path / "ema", recipe, modules, num_classes=10, class_names=CLASS_NAMES, sampler="callbacks.0.ema.generator"
    )
    assert torch.equal(load_saved(tmp_path / "ema", load_registry()).generator.templates, digit_templates)
    write_checkpoint(tmp_path / "plain", recipe, modules, num_classes=10, class_names=[], sampler="generator")
    saved = load_saved(tmp_path / "plain", load_registry())
    assert torch.equal(saved.generator.templates, torch.zeros(10, 1, 28, 28)) and saved.class_names == ()
    assert saved.generator.num_classes == 10 and not saved.generator.training


CORRUPT = {
    "no classes": ({}, "its generator is conditional but it records no classes"),
    "names": ({"num_classes": 10, "class_names": ["a", "b"]}, "metadata 'class_names' is not a list of 10 names"),
    "count": ({"num_classes": "ten"}, "metadata 'num_classes' is "),
    "sampler": ({"num_classes": 10, "sampler": 3}, "metadata 'sampler' is "),
    "sampler absent": (
        {"num_classes": 10, "sampler": "callbacks.0.ema.generator"},
        "lacks callbacks.0.ema.generator.templates",
    ),
}


@pytest.mark.parametrize("case", CORRUPT)
def test_a_checkpoint_with_bad_labelling_metadata_is_one_line(
    capsys, templates_plugin, digit_templates, mnist_root, tmp_path, case
):
    state, message = CORRUPT[case]
    path = write_checkpoint(
        tmp_path / "run",
        recipe_text({"name": "templates"}, mnist_root),
        {"generator": template_generator(digit_templates)},
        **state,
    )
    code, err = sample(capsys, str(path), "--out", str(tmp_path / "x.png"))
    assert code == 2 and err.count("\n") == 1 and f"{path}: corrupt checkpoint" in err and message in err, err


def test_a_shipped_conditional_generator_gets_its_labels(capsys, mnist_root, tmp_path):
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
    code, err = sample(capsys, str(tmp_path / "run"), "--label", "all", "--n", "10", "--out", str(tmp_path / "all.pt"))
    assert code == 0, err
    saved = torch.load(tmp_path / "all.pt", weights_only=True)
    assert saved["labels"].tolist() == list(range(10))
    z = generator.sample_latent(10, device="cpu", generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.allclose(saved["images"], generator(z, saved["labels"]).clamp(-1, 1))


def test_help_documents_labels(capsys):
    code, out, _ = cli(capsys, "sample", "--help")
    text = " ".join(out.split())
    assert code == 0 and "--label" in text and "one column per class" in text and "labels.npy" in text


# --------------------------------------------------------------------------- end to end
def test_a_trained_conditional_run_samples_the_class_asked_for(capsys, mnist_root, tmp_path):
    """One epoch of a tiny conditional MLP GAN with an EMA (the sampling generator), then
    ``ganfw sample --label 3``: the checkpoint names the EMA and the classes; the images come
    from the EMA generator given label 3."""
    recipe = tiny_recipe(
        tmp_path / "cond.toml",
        mnist_root,
        generator={"name": "cmlp", "params": {"latent_dim": 8, "hidden": [16], "embed_dim": 4}},
        discriminator={"name": "cmlp", "params": {"hidden": [16]}},
    )
    recipe.write_text(recipe.read_text() + '\n[[callbacks]]\nname = "ema"\nparams = {decay = 0.5}\n')
    code, _, err = cli(capsys, "run", str(recipe), "--out", str(tmp_path / "run"), "--quiet")
    assert code == 0, err
    checkpoint = list_checkpoints(tmp_path / "run" / "checkpoints")[-1]
    with safe_open(str(checkpoint), framework="pt") as f:
        state = json.loads(f.metadata()["ganfw"])
    assert state["num_classes"] == 10 and state["class_names"] == CLASS_NAMES
    assert state["sampler"] == "callbacks.ema.generator"
    code, err = sample(capsys, str(tmp_path / "run"), "--label", "3", "--n", "8", "--out", str(tmp_path / "threes.npy"))
    assert code == 0, err
    images, labels = torch.from_numpy(np.load(tmp_path / "threes.npy")), np.load(tmp_path / "threes.labels.npy")
    assert images.shape == (8, 1, 28, 28) and labels.tolist() == [3] * 8
    ema = load_saved(tmp_path / "run", load_registry()).generator
    z = ema.sample_latent(8, device="cpu", generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.allclose(images, ema(z, torch.full((8,), 3)).clamp(-1, 1))
        assert not torch.allclose(images, ema(z, torch.full((8,), 4)).clamp(-1, 1))  # the label matters


# --- JPEG, and arguments answered before torch is imported (issue 22) -----------------------------


@pytest.mark.parametrize("suffix", [".jpg", ".jpeg", ".JPG"])
def test_a_jpeg_grid(capsys, templates_plugin, conditional_run, digit_templates, tmp_path, suffix):
    out = tmp_path / f"threes{suffix}"
    code, err = sample(capsys, str(conditional_run), "--label", "3", "--n", "4", "--out", str(out))
    assert code == 0 and err.strip() == f"wrote 4 images of class 3 to {out}"
    with Image.open(out) as grid:
        assert (grid.format, grid.mode, grid.size) == ("JPEG", "L", (2 * (28 * 4 + 2) + 2,) * 2)  # 2 x 2 cells
    png = tmp_path / "threes.png"
    assert sample(capsys, str(conditional_run), "--label", "3", "--n", "4", "--out", str(png))[0] == 0
    lossy, exact = (np.asarray(Image.open(path), dtype=np.float64) for path in (out, png))
    assert np.abs(lossy - exact).mean() < 2.0  # quality 95: the same picture, a grey level off on average


REFUSED_BEFORE_TORCH = """
import sys
from ganfw.cli import main
try:
    main(sys.argv[1:])
except SystemExit as e:
    print(e.code, "torch" in sys.modules)
"""


@pytest.mark.parametrize(
    "args, line",
    [
        (["sample", "{run}", "--out", "x.gif"], "error: --out x.gif: unsupported format '.gif'; use one of .png, .jpg, .jpeg, .pt, .npy"),
        (["sample", "{tmp}/nope", "--out", "x.jpg"], "error: {tmp}/nope: no such run directory or checkpoint"),
        (["sample", "{run}", "--out", "x.png", "--n", "0"], "error: --n 0: ask for 1 image or more"),
        (["interpolate", "{run}", "--out", "walk.jpg"], "error: --out walk.jpg: unsupported format '.jpg'; use one of .gif, .png"),
        (["interpolate", "{tmp}/nope", "--out", "walk.gif"], "error: {tmp}/nope: no such run directory or checkpoint"),
        (["interpolate", "{run}", "--out", "walk.gif", "--frames", "0"], "error: --frames 0: must be at least 1"),
    ],
)  # fmt: skip
def test_bad_arguments_are_refused_before_torch_is_imported(tmp_path, args, line):
    """``ganfw sample runs/try --out x.jpg`` took 24 s (torch, the generator) to say that .jpg was
    not supported: a refusal that needs no generator comes before torch is imported."""
    (tmp_path / "run").mkdir()
    argv = [a.format(run=tmp_path / "run", tmp=tmp_path) for a in args]
    result = subprocess.run(
        [sys.executable, "-c", REFUSED_BEFORE_TORCH, *argv], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert result.stdout.split() == ["2", "False"], result.stderr
    assert result.stderr.strip() == line.format(tmp=tmp_path)
