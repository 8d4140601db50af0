"""``ganfw interpolate``: spherical interpolation, the walks' latents, and the GIF/PNG written from
a tiny trained run (the EMA generator) and from a conditional generator (one class per walk)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganfw.cli import main
from ganfw.errors import UserError
from ganfw.evaluation.images import read_grid
from ganfw.interpolate import interpolate_to_file, keyframe_latents, slerp, walk
from ganfw.plugins import load_registry
from ganfw.sampling import draw, load_saved, sample_to_file
from tests.helpers.cli import cli
from tests.helpers.recipes import tiny_recipe

SHAPE = (1, 28, 28)


def gif_frames(path: Path) -> list[np.ndarray]:
    """Every frame of an animated grey GIF as an (H, W) uint8 array."""
    with Image.open(path) as gif:
        frames = []
        for i in range(gif.n_frames):
            gif.seek(i)
            frames.append(np.array(gif.convert("L")))
    return frames


def grid_cells(picture: np.ndarray, tmp_path: Path) -> torch.Tensor:
    """The cells (N, 1, 28, 28) in [-1, 1] of one grid picture (H, W) uint8."""
    Image.fromarray(picture).save(tmp_path / "cells.png")
    return read_grid(tmp_path / "cells.png", SHAPE)


def interpolate(
    target: Path,
    out: Path,
    *,
    n: int = 4,
    keyframes: int = 3,
    frames: int = 5,
    seed: int = 0,
    label: str | None = None,
    fps: int = 10,
) -> str:
    return interpolate_to_file(
        target, load_registry(), n=n, keyframes=keyframes, frames=frames, seed=seed, label=label, out=out, fps=fps
    )


# --------------------------------------------------------------------------- slerp
@pytest.mark.parametrize("shape", [(5, 8), (5, 8, 1, 1)])
def test_slerp_ends_exactly_at_its_endpoints(shape):
    a, b = torch.randn(shape, generator=torch.Generator().manual_seed(0)), torch.randn(shape)
    assert torch.equal(slerp(a, b, 0.0), a) and torch.equal(slerp(a, b, 1.0), b)
    assert slerp(a, b, 0.3).shape == shape and slerp(a, b, 0.3).dtype == a.dtype


def test_slerp_between_orthogonal_vectors_keeps_to_the_circle():
    a, b = torch.tensor([[3.0, 0.0, 0.0]]), torch.tensor([[0.0, 3.0, 0.0]])
    for t in torch.linspace(0, 1, 11).tolist():
        point = slerp(a, b, t)
        assert torch.allclose(
            point, 3 * torch.tensor([[math.cos(t * math.pi / 2), math.sin(t * math.pi / 2), 0.0]]), atol=1e-6
        )
        assert math.isclose(point.norm().item(), 3.0, rel_tol=1e-6)  # a straight line dips to 3 / sqrt(2)
    assert torch.allclose(slerp(a, b, 0.5), (a + b) / math.sqrt(2))


def test_slerp_of_parallel_opposite_or_zero_rows_falls_back_to_a_straight_line():
    a = torch.tensor([[1.0, 2.0], [1.0, 2.0], [0.0, 0.0], [1.0, 0.0]])
    b = torch.tensor([[2.0, 4.0], [-1.0, -2.0], [3.0, 1.0], [0.0, 1.0]])  # parallel, opposite, from zero, orthogonal
    for t in (0.25, 0.5, 0.9):
        point = slerp(a, b, t)
        assert torch.isfinite(point).all()
        assert torch.allclose(point[:3], (1 - t) * a[:3] + t * b[:3])
        assert torch.allclose(point[3], torch.tensor([math.cos(t * math.pi / 2), math.sin(t * math.pi / 2)]))
    assert torch.allclose(slerp(a, b, 0.5)[1], torch.zeros(2))
    nearly = a[:1] + torch.tensor([[0.0, 1e-9]])
    assert torch.allclose(slerp(a[:1], nearly, 0.5), a[:1])


def test_a_walk_passes_every_keyframe_and_loops_back():
    keys = torch.randn(3, 4, 8, generator=torch.Generator().manual_seed(1))
    path = walk(keys, 5)
    assert path.shape == (15, 4, 8)
    assert all(torch.equal(path[5 * s], keys[s]) for s in range(3))
    assert torch.allclose(path[-1], slerp(keys[2], keys[0], 0.8))  # the last leg heads back to keyframe 0


# --------------------------------------------------------------------------- a trained run
@pytest.fixture(scope="module")
def trained_run(tmp_path_factory: pytest.TempPathFactory, mnist_root: Path) -> Path:
    """One epoch (2 steps) of a tiny DCGAN with an EMA, the sampling generator."""
    folder = tmp_path_factory.mktemp("interpolate")
    recipe = tiny_recipe(folder / "tiny.toml", mnist_root)
    recipe.write_text(recipe.read_text() + '\n[[callbacks]]\nname = "ema"\nparams = {decay = 0.5}\n')
    try:
        main(["run", str(recipe), "--out", str(folder / "run"), "--quiet"])
    except SystemExit as e:
        assert not e.code, f"training failed with exit status {e.code}"
    return folder / "run"


def test_a_gif_of_walks_from_a_trained_run(trained_run, tmp_path):
    out = tmp_path / "walk.gif"
    line = interpolate(trained_run, out, n=4, keyframes=3, frames=5, seed=3, fps=10)
    assert line == f"wrote 4 latent walks, 3 keyframes each, to {out} (15 frames at 10 fps, looping)"
    with Image.open(out) as gif:
        assert gif.n_frames == 15 and gif.info["loop"] == 0 and gif.info["duration"] == 100
    frames = gif_frames(out)
    sample_to_file(trained_run, load_registry(), n=4, out=tmp_path / "sample.png", seed=3, label=None)
    with Image.open(tmp_path / "sample.png") as grid:
        assert np.array_equal(frames[0], np.array(grid))  # keyframe 0 is ganfw sample's grid: the EMA's images
    generator = load_saved(trained_run, load_registry()).generator  # the EMA's weights
    keys, _ = keyframe_latents(generator, 4, 3, 3, None)
    with torch.no_grad():
        for frame, key in ((0, 0), (5, 1), (10, 2)):
            assert torch.allclose(
                grid_cells(frames[frame], tmp_path), generator(keys[key]).clamp(-1, 1), atol=1 / 127.5
            )

    steps = [np.abs(frames[i].astype(int) - frames[(i + 1) % 15]).mean() for i in range(15)]  # the loop closes
    legs = [np.abs(frames[5 * s].astype(int) - frames[5 * (s + 1) % 15]).mean() for s in range(3)]
    assert min(steps) > 0  # every frame moves
    assert max(steps) < 0.5 * min(legs)  # by a fraction of the way between keyframes


def test_a_png_has_one_row_per_walk_and_one_column_per_frame(trained_run, tmp_path):
    line = interpolate(trained_run, tmp_path / "walk.png", n=3, keyframes=2, frames=4, seed=3)
    assert line.endswith("(one row per walk, 8 frames across)")
    interpolate(trained_run, tmp_path / "walk.gif", n=3, keyframes=2, frames=4, seed=3)
    with Image.open(tmp_path / "walk.png") as picture:
        assert picture.size == (8 * (28 * 4 + 2) + 2, 3 * (28 * 4 + 2) + 2)
    rows = read_grid(tmp_path / "walk.png", SHAPE).view(3, 8, *SHAPE)
    for j, frame in enumerate(gif_frames(tmp_path / "walk.gif")):
        assert torch.equal(rows[:, j], grid_cells(frame, tmp_path))


# --------------------------------------------------------------------------- conditional generators
def walk_rows(run: Path, tmp_path: Path, walks: int, **kw) -> torch.Tensor:
    """The PNG strip of ``run``'s walks as (walks, frames, 1, 28, 28)."""
    interpolate(run, tmp_path / "walk.png", keyframes=2, frames=3, **kw)
    return read_grid(tmp_path / "walk.png", SHAPE).view(walks, 6, *SHAPE)


def test_one_class_for_every_walk(templates_plugin, conditional_run, digit_templates, tmp_path):
    rows = walk_rows(conditional_run, tmp_path, 4, n=4, label="7")
    assert torch.allclose(rows, digit_templates[7].expand_as(rows), atol=0.02)


def test_all_classes_one_walk_each_in_turn(templates_plugin, conditional_run, digit_templates, tmp_path):
    line = interpolate(conditional_run, tmp_path / "walk.gif", n=12, label="all")
    assert line.startswith("wrote 20 latent walks cycling through the 10 classes, 3 keyframes each, to ")
    with Image.open(tmp_path / "walk.gif") as gif:
        assert gif.size == (10 * (28 * 4 + 2) + 2, 2 * (28 * 4 + 2) + 2)  # one column per class
    rows = walk_rows(conditional_run, tmp_path, 20, n=12, label="all")
    assert torch.allclose(rows, digit_templates.repeat(2, 1, 1, 1)[:, None].expand_as(rows), atol=0.02)


def test_uniform_classes_stay_fixed_along_each_walk(templates_plugin, conditional_run, digit_templates, tmp_path):
    rows = walk_rows(conditional_run, tmp_path, 16, n=16, seed=5)
    labels = draw(load_saved(conditional_run, load_registry()).generator, 16, seed=5).labels
    assert len(set(labels.tolist())) > 3  # drawn as ganfw sample --seed 5 draws them
    assert torch.allclose(rows, digit_templates[labels][:, None].expand_as(rows), atol=0.02)


# --------------------------------------------------------------------------- refusals
@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"out": "walk.jpg"}, "unsupported format '.jpg'; use one of .gif, .png"),
        ({"n": 0}, "--n 0: must be at least 1"),
        ({"keyframes": 1}, "--keyframes 1: must be at least 2"),
        ({"frames": 0}, "--frames 0: must be at least 1"),
        ({"fps": 0}, "--fps 0: must be at least 1"),
        ({"fps": 51}, "--fps 51: a GIF shows at most 50 frames a second"),
    ],
)
def test_bad_arguments_are_one_line_before_loading_anything(tmp_path, change, message):
    out = tmp_path / change.pop("out", "walk.gif")
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(".", r"\.")) as caught:
        interpolate(tmp_path / "no-such-run", out, **change)
    assert "\n" not in str(caught.value) and not out.exists()


def test_a_label_for_an_unconditional_generator_is_refused(unconditional_run, tmp_path):
    with pytest.raises(UserError, match="is not conditional"):
        interpolate(unconditional_run, tmp_path / "walk.gif", label="3")
    assert not (tmp_path / "walk.gif").exists()


# --------------------------------------------------------------------------- the command
def test_the_command_writes_a_gif(capsys, unconditional_run, tmp_path):
    out = tmp_path / "walk.gif"
    code, stdout, err = cli(
        capsys,
        "interpolate",
        str(unconditional_run),
        "--out",
        str(out),
        "--n",
        "4",
        "--keyframes",
        "2",
        "--frames",
        "3",
        "--seed",
        "1",
        "--fps",
        "5",
    )
    assert code == 0 and stdout == "", err
    assert err.strip() == f"wrote 4 latent walks, 2 keyframes each, to {out} (6 frames at 5 fps, looping)"
    with Image.open(out) as gif:
        assert gif.info["duration"] == 200


def test_the_command_refuses_in_one_line(capsys, unconditional_run, tmp_path):
    code, _, err = cli(capsys, "interpolate", str(unconditional_run), "--out", str(tmp_path / "walk.mp4"))
    assert code == 2 and err.count("\n") == 1 and "unsupported format '.mp4'" in err
