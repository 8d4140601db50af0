"""The text of the package ``ganfw new-plugin`` writes, as :class:`string.Template` sources.

Placeholders: ``$name`` (the plugin, also the name of each example component), ``$pkg`` (the
import package), ``$dist`` (the distribution), ``$Cls`` (the CamelCase prefix of class names)
and, in the file templates, the pieces assembled by :mod:`ganfw.scaffold` (``$body``,
``$imports``, ...).
This module must not import torch.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Example:
    """One example component of a kind.

    Attributes:
        summary: its one-line summary for ``ganfw list``.
        params: the source of its params dataclass ``${Cls}<Kind>Params`` (plugin module).
        component: the source of its class ``${Cls}<Kind>`` (components module).
        needs: names the class uses that the components module must import: keys of
            :data:`IMPORTS`, the others from ``ganfw.plugin`` (the plugin surface).
    """

    summary: str
    params: str
    component: str
    needs: tuple[str, ...]


#: name -> (group, import statement) that provides it in the components module, in the order
#: the statements are written; groups are separated by a blank line. ``from`` imports of one
#: module are merged.
IMPORTS: dict[str, tuple[str, str]] = {
    "copy": ("stdlib", "import copy"),
    "dataclasses": ("stdlib", "import dataclasses"),
    "math": ("stdlib", "import math"),
    "Any": ("stdlib", "from typing import Any"),
    "torch": ("torch", "import torch"),
    "Tensor": ("torch", "from torch import Tensor"),
    "nn": ("torch", "from torch import nn"),
    "F": ("torch", "from torch.nn import functional as F"),
}

EXAMPLES: dict[str, Example] = {
    "generator": Example(
        summary="Example MLP generator: noise -> one hidden layer -> tanh pixels (edit me)",
        params="""
@dataclass(frozen=True)
class ${Cls}GeneratorParams:
    latent_dim: int = param(64, "length of the noise vector z", min=1)
    hidden: int = param(256, "width of the hidden layer", min=1)
""",
        component='''
class ${Cls}Generator(Generator):
    """Noise (N, Z) -> Linear -> LeakyReLU -> Linear to C*H*W -> tanh -> images (N, C, H, W).

    The noise comes from the inherited ``sample_latent(n, *, device=None, generator=None)``
    (standard normal); an override must keep that signature, as the engine calls it so.
    """

    def __init__(self, params: ${Cls}GeneratorParams, image_shape: ImageShape):
        super().__init__()
        self.latent_dim = params.latent_dim
        self.image_shape = as_image_shape(image_shape)
        self.net = nn.Sequential(
            nn.Linear(params.latent_dim, params.hidden),
            nn.LeakyReLU(0.2),
            nn.Linear(params.hidden, math.prod(image_shape)),
            nn.Tanh(),
            nn.Unflatten(1, self.image_shape),
        )

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """(N, Z) -> (N, C, H, W) in [-1, 1]; ``labels`` are for conditional generators (this one
        is not: its spec has no ``conditional=True``)."""
        return self.net(z)
''',
        needs=("math", "Tensor", "nn", "Generator", "ImageShape", "as_image_shape"),
    ),
    "discriminator": Example(
        summary="Example MLP discriminator: flattened pixels -> one hidden layer -> logit (edit me)",
        params="""
@dataclass(frozen=True)
class ${Cls}DiscriminatorParams:
    hidden: int = param(256, "width of the hidden layer", min=1)
    slope: float = param(0.2, "LeakyReLU negative slope", min=0.0)
""",
        component='''
class ${Cls}Discriminator(Discriminator):
    """Images (N, C, H, W) -> flatten -> Linear -> LeakyReLU -> Linear -> logits (N,)."""

    def __init__(self, params: ${Cls}DiscriminatorParams, image_shape: ImageShape):
        super().__init__()
        self.image_shape = as_image_shape(image_shape)
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(math.prod(image_shape), params.hidden),
            nn.LeakyReLU(params.slope),
            nn.Linear(params.hidden, 1),
        )

    def forward(self, images: Tensor, labels: Tensor | None = None) -> Tensor:
        """(N, C, H, W) -> (N,); ``labels`` are for conditional discriminators."""
        return self.net(images).squeeze(1)
''',
        needs=("math", "Tensor", "nn", "Discriminator", "ImageShape", "as_image_shape"),
    ),
    "loss": Example(
        summary="Example hinge loss with an adjustable margin (edit me)",
        params="""
@dataclass(frozen=True)
class ${Cls}LossParams:
    margin: float = param(1.0, "the discriminator's hinge margin", min=0.0, min_exclusive=True)
""",
        component='''
class ${Cls}Loss(Loss):
    """Hinge loss with margin m: D minimises mean(relu(m - real)) + mean(relu(m + fake)) (two
    terms, logged as d/real and d/fake), G minimises -mean(fake). Logits: real (N,), fake (M,).
    G's loss gets real_logits=None (set g_needs_real = True to get D's logits on the reals)."""

    def __init__(self, params: ${Cls}LossParams):
        self.margin = params.margin

    def d_loss(self, real_logits: Tensor, fake_logits: Tensor) -> dict[str, Tensor]:
        return {"real": F.relu(self.margin - real_logits).mean(), "fake": F.relu(self.margin + fake_logits).mean()}

    def g_loss(self, real_logits: Tensor | None, fake_logits: Tensor) -> Tensor:
        return -fake_logits.mean()
''',
        needs=("Tensor", "F", "Loss"),
    ),
    "schedule": Example(
        summary="Example schedule: D steps every step, G every d_steps-th step (edit me)",
        params="""
@dataclass(frozen=True)
class ${Cls}ScheduleParams:
    d_steps: int = param(2, "discriminator steps per generator step", min=1)
""",
        component='''
class ${Cls}Schedule(Schedule):
    """D steps on every step, G on every ``d_steps``-th one (against the updated D). Counts G's
    updates: logged to metrics.jsonl, and kept in checkpoints through ``state_dict``."""

    def __init__(self, params: ${Cls}ScheduleParams):
        self.d_steps = params.d_steps
        self.g_updates = 0

    def decide(self, step: int) -> Decision:
        return Decision(train_d=True, train_g=step % self.d_steps == self.d_steps - 1)

    def observe(self, report: StepReport) -> None:
        self.g_updates += int(report.trained_g)

    def log(self) -> dict[str, float]:
        return {"g_updates": float(self.g_updates)}

    def state_dict(self) -> dict[str, Any]:
        return {"g_updates": self.g_updates}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.g_updates = state["g_updates"]
''',
        needs=("Any", "Decision", "Schedule", "StepReport"),
    ),
    "dataset": Example(
        summary="Example dataset: one bright square per image, generated (edit me)",
        params="""
@dataclass(frozen=True)
class ${Cls}DatasetParams:
    size: int = param(28, "image height and width", min=4)
    count: int = param(1024, "how many images", min=1)
    seed: int = param(0, "seed of the squares' sizes and places", min=0)
""",
        component='''
class ${Cls}Dataset(Dataset):
    """Synthetic images (N, 1, S, S) in [-1, 1]: a square of +1 on a background of -1, of random
    side (2 to S/2) and place. ``root`` (the resolved data directory) is unused: nothing is read;
    ``limit`` keeps the first images. Unlabelled: a labelled dataset sets ``class_names`` and
    returns (N,) int64 classes from ``load_labels()``."""

    def __init__(self, params: ${Cls}DatasetParams, root: str, limit: int | None = None):
        self.params = params
        self.limit = limit
        self.image_shape = (1, params.size, params.size)

    def load(self) -> Tensor:
        """(N, 1, S, S) float32 on the CPU, N = count (or limit, if smaller)."""
        p = self.params
        n = p.count if self.limit is None else min(p.count, self.limit)
        rng = torch.Generator().manual_seed(p.seed)
        side = torch.randint(2, p.size // 2 + 1, (n, 1), generator=rng)
        top = (torch.rand(n, 1, generator=rng) * (p.size - side + 1)).long()
        left = (torch.rand(n, 1, generator=rng) * (p.size - side + 1)).long()
        pixels = torch.arange(p.size)
        rows = (pixels >= top) & (pixels < top + side)  # (N, S)
        cols = (pixels >= left) & (pixels < left + side)  # (N, S)
        square = rows[:, :, None] & cols[:, None, :]  # (N, S, S)
        return square.float().mul(2).sub(1).unsqueeze(1)

    def held_out(self) -> Split | None:
        """The images evaluation scores against: the next 256 of the same kind (another seed),
        never trained on. ``None`` would mean the dataset has none (evaluation then refuses it)."""
        other = ${Cls}Dataset(dataclasses.replace(self.params, count=256, seed=self.params.seed + 1), root="")
        return Split(other.load(), name="held-out")
''',
        needs=("dataclasses", "torch", "Tensor", "Dataset", "Split"),
    ),
    "metric": Example(
        summary="Example metric: the distance between the mean features of generated and real images (edit me)",
        params="""
@dataclass(frozen=True)
class ${Cls}MetricParams:
    squared: bool = param(False, "report the squared distance")
""",
        component='''
class ${Cls}Metric(Metric):
    """``|| mean(generated features) - mean(real features) ||``: the first term of FID. Both sets
    come as embeddings (features (N, D) in the evaluation's feature space); a metric that reads
    the images themselves sets ``needs_images = True`` and gets ``images`` (N, C, H, W) in
    [-1, 1] in both; one that reads the judge's class logits sets ``needs_judge = True``."""

    def __init__(self, params: ${Cls}MetricParams):
        self.squared = params.squared

    def compute(self, generated: Embedding, reference: Embedding) -> MetricResult:
        gap = (generated.features.mean(0) - reference.features.mean(0)).square().sum()
        value = float(gap if self.squared else gap.sqrt())
        return MetricResult({"$name": value}, {"features": int(generated.features.shape[1])})
''',
        needs=("Embedding", "Metric", "MetricResult"),
    ),
    "augmentation": Example(
        summary="Example augmentation: random brightness shifts, differentiable (edit me)",
        params="""
@dataclass(frozen=True)
class ${Cls}AugmentationParams:
    strength: float = param(0.2, "largest brightness shift (images are in [-1, 1])", min=0.0)
""",
        component='''
class ${Cls}Augmentation(Augmentation):
    """Adds one shift from U[-strength, strength) to each image: (N, C, H, W) -> (N, C, H, W),
    DiffAugment's brightness transform (Zhao et al. 2020). D sees every image through it, real
    and generated; it is differentiable, so G learns through it. Randomness comes from torch's
    global generator on the images' device, which checkpoints save."""

    def __init__(self, params: ${Cls}AugmentationParams):
        self.strength = params.strength

    def __call__(self, images: Tensor) -> Tensor:
        shift = torch.rand(len(images), 1, 1, 1, device=images.device, dtype=images.dtype) * 2 - 1
        return images + self.strength * shift
''',
        needs=("torch", "Tensor", "Augmentation"),
    ),
    "callback": Example(
        summary="Example callback: a moving average of G's weights, used for sampling (edit me)",
        params="""
@dataclass(frozen=True)
class ${Cls}CallbackParams:
    decay: float = param(0.999, "ema = decay * ema + (1 - decay) * G after each step", min=0.0, max=1.0)
""",
        component='''
class ${Cls}Callback(Callback):
    """An exponential moving average of G's weights (Karras et al. 2018), in eval mode, with G's
    buffers; grids, evaluation and ganfw sample use it (sampling_generator), and checkpoints keep
    it (modules). The view is read-only: G itself is never changed."""

    def __init__(self, params: ${Cls}CallbackParams):
        self.decay = params.decay
        self.ema: Generator | None = None

    def setup(self, view: TrainerView) -> None:
        self.ema = copy.deepcopy(view.generator).eval().requires_grad_(False)

    @torch.no_grad()
    def on_step_end(self, view: TrainerView, report: StepReport) -> None:
        for mine, theirs in zip(self.ema.parameters(), view.generator.parameters()):
            mine.lerp_(theirs, 1.0 - self.decay)
        for mine, theirs in zip(self.ema.buffers(), view.generator.buffers()):
            mine.copy_(theirs)

    def modules(self) -> dict[str, nn.Module]:
        return {"generator": self.ema}

    def sampling_generator(self) -> Generator | None:
        return self.ema
''',
        needs=("copy", "torch", "nn", "Callback", "Generator", "StepReport", "TrainerView"),
    ),
    "lr-schedule": Example(
        summary="Example learning-rate schedule: linear warm-up, then the recipe's rates (edit me)",
        params="""
@dataclass(frozen=True)
class ${Cls}LrScheduleParams:
    warmup: float = param(0.05, "fraction of the run over which the rates rise to the recipe's", min=0.0, max=1.0)
""",
        component='''
class ${Cls}LrSchedule(LRSchedule):
    """Both rates rise linearly to the recipe's lr over the first warmup * total_steps steps, then
    stay there. A pure function of the step, so a resumed run needs no state."""

    def __init__(self, params: ${Cls}LrScheduleParams):
        self.warmup = params.warmup

    def factor(self, step: int, total_steps: int) -> tuple[float, float]:
        warmup_steps = self.warmup * total_steps
        f = min(1.0, (step + 1) / warmup_steps) if warmup_steps > 1 else 1.0
        return f, f
''',
        needs=("LRSchedule",),
    ),
}

PLUGIN_MODULE = '''"""Plugin ``$name``: the hooks and params that ``ganfw list`` reads.

Keep torch out of this module. The components live in ``$pkg.components``,
imported only when a recipe builds one.
"""

from __future__ import annotations

from dataclasses import dataclass

from ganfw.plugin import ComponentSpec, hookimpl, param

#: The plugin API (ganfw.contracts) this module is written for: docs/plugins.md, "Plugin API versions".
GANFW_API = 2$body'''

HOOK = """@hookimpl
def $hook() -> list[ComponentSpec]:
    return [
        ComponentSpec(
            name="$name",
            kind="$kind",
            summary="$summary",
            factory="$pkg.components:$cls",
            params=${cls}Params,
        )
    ]
"""

COMPONENTS_MODULE = '''"""The components of plugin ``$name``, imported only when a recipe builds one.

Shapes: ``N`` batch, ``(C, H, W)`` an image, ``Z`` the generator's latent_dim.
"""

from __future__ import annotations

$imports$classes'''

TEST_MODULE = '''"""Plugin ``$name`` keeps ganfw's contracts (ganfw.testing) and is installed."""

import pytest

import $pkg
from ganfw.testing import check_component, check_installed, plugin_specs

SPECS = plugin_specs($pkg)


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: f"{spec.kind}:{spec.name}")
def test_component_keeps_the_contract(spec):
    check_component(spec)


def test_plugin_is_installed():
    check_installed("$name", SPECS)
'''

PYPROJECT = """[build-system]
requires = ["setuptools>=64"]
build-backend = "setuptools.build_meta"

[project]
name = "$dist"
version = "0.1.0"
description = "A ganfw plugin: $offers"
readme = "README.md"
requires-python = ">=3.11"
dependencies = ["ganfw>=$ganfw_version"]

[project.optional-dependencies]
dev = ["pytest>=8.0"]

# This line makes the package a ganfw plugin: plugin name = the module holding the hooks.
[project.entry-points.ganfw]
$name = "$pkg"

[tool.setuptools.packages.find]
where = ["src"]

[tool.pytest.ini_options]
testpaths = ["tests"]
"""

README = """# $dist

A [ganfw](https://pypi.org/project/ganfw/) plugin offering $offers.

Made with `ganfw new-plugin`; the guide for plugin authors is docs/plugins.md in the ganfw
repository.

## Develop

Install the package (editable) into the environment where ganfw is installed, check that ganfw
sees it, and run its tests (the contract checks of `ganfw.testing`):

```sh
pip install -e ".[dev]"
ganfw list --plugin $name
pytest
```

`src/$pkg/__init__.py` holds the hooks and params (no torch: `ganfw list` imports it);
`src/$pkg/components.py` the components.

## Use in a recipe

```toml
$recipe
```

Write `"$name:$name"` instead of `"$name"` if another plugin offers a component of the same
name (`ganfw list` marks such clashes).

## Publish

```sh
pip install build twine
python -m build
twine upload dist/*
```
"""

GITIGNORE = """__pycache__/
*.egg-info/
build/
dist/
"""

#: Printed after the package is written (``str.format``: ``directory``, ``name``).
NEXT_STEPS = """created {directory}
next steps:
  cd {directory}
  pip install -e ".[dev]"
  ganfw list --plugin {name}
  pytest"""
