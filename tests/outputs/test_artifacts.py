"""Run-directory artifacts: sample grids, the training GIF, loss curves and metrics.jsonl."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganfw.artifacts import PAD_VALUE, plot_curves, read_jsonl, save_gif, save_grid

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_grid_of_16_is_4x4_cells_of_scaled_images(tmp_path: Path) -> None:
    path = tmp_path / "grid.png"
    save_grid(torch.zeros(16, 1, 28, 28), path, scale=4, padding=2)
    with Image.open(path) as picture:
        assert picture.format == "PNG" and picture.mode == "L"
        assert picture.size == (4 * (28 * 4 + 2) + 2,) * 2


def test_nrow_sets_the_columns(tmp_path: Path) -> None:
    save_grid(torch.zeros(6, 1, 28, 28), tmp_path / "grid.png", nrow=3, scale=1, padding=2)
    with Image.open(tmp_path / "grid.png") as picture:
        assert picture.size == (3 * 30 + 2, 2 * 30 + 2)  # (width, height)


def test_pixel_values_and_nearest_neighbour_scaling(tmp_path: Path) -> None:
    images = torch.full((4, 1, 28, 28), -1.0)
    images[1] = 1.0
    images[2, 0, 0, 0] = 0.0  # top-left pixel of the third image
    images[3] = (torch.arange(28 * 28).reshape(1, 28, 28) % 256 - 127.5) / 127.5  # dataset scaling
    scale, pad = 3, 2
    save_grid(images, tmp_path / "grid.png", scale=scale, padding=pad)
    grid = np.asarray(Image.open(tmp_path / "grid.png"))
    cell = 28 * scale + pad

    def image(row: int, col: int) -> np.ndarray:
        return grid[pad + row * cell : row * cell + cell, pad + col * cell : col * cell + cell]

    assert (image(0, 0) == 0).all()  # -1 -> 0
    assert (image(0, 1) == 255).all()  # 1 -> 255
    assert (image(1, 0)[:scale, :scale] == 128).all()  # 0 -> 127.5, rounded
    assert image(1, 0)[scale, scale] == 0
    ramp = image(1, 1)[::scale, ::scale]
    assert (ramp == np.arange(28 * 28).reshape(28, 28) % 256).all()  # uint8 pixels survive exactly
    assert (image(1, 1) == np.kron(ramp, np.ones((scale, scale), dtype=np.uint8))).all()
    assert (grid[:pad] == PAD_VALUE).all() and (grid[:, cell : cell + pad] == PAD_VALUE).all()


def test_out_of_range_values_are_clamped(tmp_path: Path) -> None:
    save_grid(torch.tensor([-3.0, 3.0]).reshape(2, 1, 1, 1), tmp_path / "g.png", scale=1, padding=0)
    assert np.asarray(Image.open(tmp_path / "g.png")).tolist() == [[0, 255]]


def test_rgb_and_single_image(tmp_path: Path) -> None:
    save_grid(torch.zeros(1, 3, 8, 8), tmp_path / "rgb.png", scale=2, padding=2)
    with Image.open(tmp_path / "rgb.png") as picture:
        assert picture.mode == "RGB" and picture.size == (8 * 2 + 4, 8 * 2 + 4)
    with pytest.raises(ValueError):
        save_grid(torch.zeros(2, 2, 8, 8), tmp_path / "bad.png")


def test_gif_has_every_frame_and_loops(tmp_path: Path) -> None:
    frames = []
    for i in range(5):
        frames.append(tmp_path / f"epoch_{i:03d}.png")
        save_grid(torch.full((4, 1, 28, 28), -1.0 + i * 0.5), frames[-1])
    save_gif(frames, tmp_path / "training.gif", duration_ms=120)
    with Image.open(tmp_path / "training.gif") as gif:
        assert gif.format == "GIF"
        assert gif.n_frames == 5
        assert gif.info["loop"] == 0
        assert gif.info["duration"] == 120
        assert gif.size == Image.open(frames[0]).size
        gif.seek(4)
        assert np.asarray(gif.convert("L"))[10, 10] == 255  # the last frame is the last grid


def test_plot_curves_without_eval(tmp_path: Path) -> None:
    records = [
        {"event": "start", "recipe": "x.toml"},  # no step: skipped
        *(
            {"step": s, "epoch": s // 10, "d_loss": 1.0 / (s + 1), "g_loss": 0.5, "d_real": 0.6, "d_fake": 0.4}
            for s in range(0, 50, 5)
        ),
        {"step": 50, "d_loss": 0.1},  # some keys missing
        {"event": "checkpoint", "step": 50, "path": "ckpt.pt"},
    ]
    path = tmp_path / "curves.png"
    plot_curves(records, path)
    assert path.read_bytes().startswith(PNG_MAGIC)
    with Image.open(path) as picture:
        width, height = picture.size
    assert width > 0 and height > 0


def test_plot_curves_with_eval(tmp_path: Path) -> None:
    records = [{"step": s, "d_loss": 0.7, "g_loss": 0.7, "d_real": 0.5, "d_fake": 0.5} for s in range(20)]
    records += [{"epoch": e, "eval/fid": 100.0 - e, "eval/is": 2.0 + e} for e in range(1, 4)]
    plot_curves(records[:20], tmp_path / "plain.png")
    plot_curves(records, tmp_path / "eval.png")
    assert (tmp_path / "eval.png").read_bytes().startswith(PNG_MAGIC)
    with Image.open(tmp_path / "plain.png") as plain, Image.open(tmp_path / "eval.png") as with_eval:
        assert with_eval.size[1] > plain.size[1]  # the eval panels were added


def test_plot_curves_of_nothing(tmp_path: Path) -> None:
    plot_curves([], tmp_path / "empty.png")
    assert (tmp_path / "empty.png").read_bytes().startswith(PNG_MAGIC)


def test_plot_curves_leaves_the_global_backend_alone(tmp_path: Path) -> None:
    import matplotlib

    before = matplotlib.get_backend()
    plot_curves([{"step": 0, "d_loss": 1.0}], tmp_path / "c.png")
    assert matplotlib.get_backend() == before


def test_read_jsonl_skips_a_truncated_last_line(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    lines = [json.dumps({"step": 0, "d_loss": 1.0}), json.dumps({"step": 10, "d_loss": 0.5})]
    path.write_text("\n".join(lines) + '\n{"step": 20, "d_lo')
    assert read_jsonl(path) == [{"step": 0, "d_loss": 1.0}, {"step": 10, "d_loss": 0.5}]
    path.write_text("\n".join(lines) + "\n\n")
    assert len(read_jsonl(path)) == 2
    path.write_text('{"step": 0\n' + lines[1] + "\n")
    with pytest.raises(json.JSONDecodeError):  # damage in the middle is not a killed run
        read_jsonl(path)


def test_an_exception_while_writing_leaves_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "grid.png"
    save_grid(torch.zeros(4, 1, 28, 28), path)
    before = path.read_bytes()

    def fail(self, fp, *args, **kwargs):
        Path(fp).write_bytes(b"half a png")
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", fail)
    with pytest.raises(OSError, match="disk full"):
        save_grid(torch.ones(4, 1, 28, 28), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["grid.png"]  # no temporary file left behind
