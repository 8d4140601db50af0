"""The dataset a score is measured against (its held-out split) and a judge is trained on: a
training run's own dataset, the one in a checkpoint's stored recipe, in a recipe file, or a
dataset component named on the command line - always from the plugin registry, with the data
root that :func:`ganfw.paths.resolve_data_root` gives.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ganfw.contracts import Dataset
from ganfw.errors import UserError
from ganfw.paths import resolve_data_root
from ganfw.plugins import LookupProblem, Registry
from ganfw.recipe import ComponentChoice, load_recipe


@dataclass(frozen=True)
class EvalData:
    """A built dataset, as evaluation names it.

    Attributes:
        dataset: the component, built with its whole training set (no ``data.limit``).
        key: ``dataset.key``, else the dataset component's name: judges and reference features
            are looked up by it, and scores are labelled with it.
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
    return EvalData(dataset, dataset.key or choice.component.spec.name, source)


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
