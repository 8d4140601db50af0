"""What evaluation calls a dataset: its own key, else the component's name - with a hash of its
params when they are not the defaults, so two parameterisations never share a judge or cached
reference features - and a held-out split that breaks its contract named in one line."""

from __future__ import annotations

import pytest
import torch

from ganfw.contracts import Dataset
from ganfw.errors import UserError
from ganfw.evaluation.datasets import EvalData, default_key
from ganfw.evaluation.reference import held_out
from ganfw.plugins import load_registry
from ganfw.recipe import load_recipe
from tests.helpers.recipes import tiny_recipe


def data_choice(tmp_path, **params):
    path = tiny_recipe(tmp_path / "r.toml", tmp_path, data={"name": "mnist", "params": params} if params else {})
    return load_recipe(path, load_registry()).data


def test_a_dataset_without_a_key_is_named_by_its_component_and_params(tmp_path):
    assert default_key(data_choice(tmp_path)) == "mnist"  # the defaults: the name alone
    download = default_key(data_choice(tmp_path, download=False))
    assert download.startswith("mnist-") and len(download) == len("mnist-") + 8
    assert download == default_key(data_choice(tmp_path, download=False))  # the same params, the same key


class BrokenHeldOut(Dataset):
    image_shape = (1, 4, 4)

    def load(self):
        return torch.zeros(2, 1, 4, 4)

    def held_out(self):
        return torch.zeros(2, 1, 4, 4)  # a tensor, not a Split


def test_a_held_out_split_of_the_wrong_type_is_one_line_naming_the_contract():
    with pytest.raises(UserError, match=r"^the dataset 'broken' broke its contract: held_out\(\) gave a Tensor, "):
        held_out(EvalData(BrokenHeldOut(), "broken", "broken"))
