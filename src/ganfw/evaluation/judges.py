"""Finding the judge of a dataset: ``<key>.safetensors`` among the judges shipped with ganfw
(``ganfw/evaluation/judges/``), then among those ``ganfw train-judge`` stored in the user cache
(``$XDG_CACHE_HOME/ganfw/judges/``, else ``~/.cache/ganfw/judges/``). A judge found for a
dataset must match it - the dataset key, the image shape, the number of classes - or it is
refused with one line.
"""

from __future__ import annotations

import re
from pathlib import Path

from ganfw.errors import UserError
from ganfw.evaluation.datasets import EvalData
from ganfw.evaluation.judge import Judge, load_judge
from ganfw.paths import user_cache_dir

#: The judges shipped inside the package.
SHIPPED = Path(__file__).with_name("judges")


def cache_dir() -> Path:
    """Where ``ganfw train-judge`` stores judges by default."""
    return user_cache_dir() / "judges"


def file_name(key: str) -> str:
    """``<key>.safetensors``, any character outside ``[A-Za-z0-9._-]`` replaced by ``_``."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", key) + ".safetensors"


def judge_paths(key: str) -> list[Path]:
    """Where the judge of the dataset ``key`` may be, in the order they are tried."""
    return [SHIPPED / file_name(key), cache_dir() / file_name(key)]


def find_judge(data: EvalData) -> Judge | None:
    """The first judge of :func:`judge_paths` that exists, checked against ``data``; ``None``
    when there is none."""
    for path in judge_paths(data.key):
        if path.is_file():
            judge = load_judge(path)
            check_match(judge, data)
            return judge
    return None


def require_judge(data: EvalData) -> Judge:
    """The judge of ``data``; a :class:`UserError` saying how to get one when there is none."""
    judge = find_judge(data)
    if judge is not None:
        return judge
    if not data.dataset.num_classes:
        raise UserError(
            f"no judge for the dataset {data.describe()} (a judge learns a dataset's classes): "
            "score it with --features inception"
        )
    raise UserError(
        f"no judge for the dataset {data.describe()}: train one with `ganfw train-judge {data.source}`, "
        "or score it with --features inception"
    )


def check_match(judge: Judge, data: EvalData) -> None:
    """Refuse a judge trained on other data than ``data`` (key, image shape or number of classes)."""
    info, dataset = judge.info, data.dataset
    if (info.dataset, info.image_shape, len(info.classes)) != (
        data.key,
        tuple(dataset.image_shape),
        dataset.num_classes,
    ):
        raise UserError(
            f"the judge {judge.path} was trained on {info.describe()}, but the dataset is {data.describe()}; "
            f"train a judge for it with `ganfw train-judge {data.source}`"
        )
