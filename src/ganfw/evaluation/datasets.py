"""The dataset a score is measured against (its held-out split) and a judge is trained on: a
training run's own dataset, the one in a checkpoint's stored recipe, in a recipe file, or a
dataset component named on the command line - always from the plugin registry, with the data
root that :func:`ganfw.paths.resolve_data_root` gives.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from ganfw.contracts import Dataset
from ganfw.errors import UserError
from ganfw.params import as_dict
from ganfw.paths import resolve_data_root
from ganfw.plugins import LookupProblem, Registry
from ganfw.recipe import ComponentChoice, load_recipe


@dataclass(frozen=True)
class EvalData:
    """A built dataset, as evaluation names it.

    Attributes:
        dataset: the component, built with its whole training set (no ``data.limit``).
        key: ``dataset.key``, else :func:`default_key`: judges and reference features are
            looked up by it, and scores are labelled with it.
        source: how to name it on the command line again (a recipe file or a dataset name),
            for hints such as "run ``ganfw train-judge <source>``".
    """

    dataset: Dataset
    key: str
    source: str

    def describe(self) -> str:
        """``'mnist' (1, 28, 28) images of 10 classes`` (or ``... images without labels``), for
        messages."""
        classes = f"of {self.dataset.num_classes} classes" if self.dataset.num_classes else "without labels"
        return f"{self.key!r} {tuple(self.dataset.image_shape)} images {classes}"


def of_run(dataset: Dataset, choice: ComponentChoice, source: str) -> EvalData:
    """The dataset a run built from the recipe section ``choice`` (``source``: the recipe file)."""
    return EvalData(dataset, dataset.key or default_key(choice), source)


def default_key(choice: ComponentChoice) -> str:
    """The key of a dataset that sets none: the component's name, followed by a short hash of its
    params when they are not the defaults - so that two parameterisations (another image size,
    another subset) never share a judge or cached reference features."""
    name, spec = choice.component.spec.name, choice.component.spec
    params = {} if choice.params is None else as_dict(choice.params)
    defaults = {} if spec.params is None else as_dict(spec.default_params())
    if params == defaults:
        return name
    digest = hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()
    return f"{name}-{digest[:8]}"


def build(choice: ComponentChoice, root: str | None, source: str) -> EvalData:
    """Build the dataset of the recipe section ``choice``, whole, from the data root ``root``
    (``None``: ``GANFW_DATA``, then the user cache)."""
    path, _ = resolve_data_root(root)
    return of_run(choice.build(root=str(path), limit=None), choice, source)


def from_argument(text: str, registry: Registry, data_root: str | None = None) -> EvalData:
    """``DATASET_OR_RECIPE``: the dataset of a recipe file (``.toml``, its ``data.root`` unless
    ``data_root`` is given) or a dataset component with its default params."""
    path = Path(text)
    if path.suffix.lower() == ".toml" or path.is_file():
        recipe = load_recipe(path, registry)
        return build(recipe.data, data_root or recipe.data_root, text)
    try:
        component = registry.resolve("dataset", text)
    except LookupProblem as e:
        raise UserError(f"{text}: not a recipe file nor a dataset: {e}") from None
    try:
        params = component.spec.default_params()
    except TypeError:  # a param without a default (an image folder's path)
        raise UserError(
            f"dataset {text!r} needs params of its own: name a recipe file whose [data] sets them"
        ) from None
    return build(ComponentChoice("data", text, component, params), data_root, text)
