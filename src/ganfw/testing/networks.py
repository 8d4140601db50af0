"""Contract checks for generators and discriminators (``torch.nn.Module`` components).

Each check works on a deep copy: the module passed in is left as it was. A conditional network
(``num_classes`` K > 0) is called with labels (N,) int64 in [0, K), an unconditional one without.
"""

from __future__ import annotations

import copy
import tempfile
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor, nn

from ganfw.checkpoint import load_checkpoint, save_checkpoint
from ganfw.contracts import Discriminator, Generator, ImageShape, as_image_shape
from ganfw.testing.contract import ContractError, check_gradients, check_tensor, devices, expect, random_images


def check_generator(
    generator: Generator, image_shape: ImageShape | None = None, batch: int = 4, num_classes: int | None = None
) -> None:
    """Check a built generator.

    * it is a :class:`ganfw.contracts.Generator` with an int ``latent_dim`` >= 1, the
      ``image_shape`` it was built for (``image_shape``; default: its own) and the
      ``num_classes`` it was built with (``num_classes``; default: its own): 0, or ``K`` >= 1
      for a conditional one;
    * ``sample_latent(n, device=..., generator=...)``, called as the engine calls it, is (n, Z)
      on that device, the same for the same seed; a conditional one's ``sample_labels`` is (n,)
      int64 in [0, K);
    * ``forward`` maps (N, Z) (and, when conditional, labels (N,)) to (N, C, H, W) float32 in
      [-1, 1], in train mode and, for a batch of one, deterministically in eval mode; a
      conditional one's images depend on the labels;
    * every parameter gradient is finite, and some parameter gets one;
    * its state survives a checkpoint (safetensors) round trip, and it runs on every device.
    """
    g = copy.deepcopy(generator)
    expect(isinstance(g, Generator), f"is a {type(g).__name__}, not a ganfw.contracts.Generator")
    expect(
        isinstance(g.latent_dim, int) and not isinstance(g.latent_dim, bool) and g.latent_dim >= 1,
        f"latent_dim is {g.latent_dim!r}, expected an int >= 1",
    )
    shape = _image_shape(g, image_shape)
    k = _num_classes(g, num_classes)
    z = check_sample_latent(g, batch)
    inputs = (z, _generator_labels(g, batch)) if k else (z,)

    g.train()
    images = g(*inputs)
    check_tensor("forward(z) in train mode", images, (batch, *shape), dtype=torch.float32, low=-1.0, high=1.0)
    _check_parameter_gradients(g, images, "the generated images")
    _check_eval_batch_of_one(g, [x[:1] for x in inputs], (1, *shape), low=-1.0, high=1.0)
    if k:
        _check_labels_matter(g, inputs, "the generated images")
    check_state_round_trip(g, *inputs)
    check_device_moves(g, *inputs)


def check_sample_latent(generator: Generator, n: int) -> Tensor:
    """``sample_latent(n, device=..., generator=...)``, called with both keywords as the engine
    calls it, is (n, Z) on ``device`` and the same for two ``torch.Generator`` of one seed, on
    every device; returns the CPU's noise."""
    noise = {device.type: _draw_latent(generator, n, device) for device in devices()}
    return noise["cpu"]


def _draw_latent(generator: Generator, n: int, device: torch.device) -> Tensor:
    try:
        draws = [
            generator.sample_latent(n, device=device, generator=torch.Generator(device).manual_seed(0))
            for _ in range(2)
        ]
    except TypeError as e:
        raise ContractError(
            f"sample_latent cannot be called as the engine calls it, sample_latent({n}, device=..., generator=...) "
            f"(override it as sample_latent(self, n, *, device=None, generator=None)): {e}"
        ) from None
    check_tensor(f"sample_latent({n}) on {device.type}", draws[0], (n, generator.latent_dim))
    expect(draws[0].device.type == device.type, f"sample_latent(device={device}) gave noise on {draws[0].device}")
    expect(torch.equal(draws[0], draws[1]), "sample_latent() differs for two torch.Generators of the same seed")
    return draws[0]


def _generator_labels(g: Generator, n: int) -> Tensor:
    """Check ``g.sample_labels(n, ...)`` ((n,) int64 in [0, K)); return labels (n,) with every
    class present where ``n`` allows, which the checks feed the generator."""
    drawn = g.sample_labels(n, device=torch.device("cpu"), generator=torch.Generator().manual_seed(0))
    check_tensor(f"sample_labels({n})", drawn, (n,), dtype=torch.int64, low=0, high=g.num_classes - 1)
    return torch.arange(n) % g.num_classes


def check_discriminator(
    discriminator: Discriminator, image_shape: ImageShape | None = None, batch: int = 4, num_classes: int | None = None
) -> None:
    """Check a built discriminator.

    * it is a :class:`ganfw.contracts.Discriminator` with the ``image_shape`` it was built for and
      the ``num_classes`` it was built with (0: unconditional; default: its own);
    * ``forward`` maps images (N, C, H, W) (and, when conditional, labels (N,)) to finite float32
      logits (N,), in train mode and, for a batch of one, deterministically in eval mode;
    * the logits depend on the images (and a conditional one's on the labels), and the gradients
      (also of a gradient penalty, which needs a double backward) are finite;
    * its state survives a checkpoint (safetensors) round trip, and it runs on every device.
    """
    d = copy.deepcopy(discriminator)
    expect(isinstance(d, Discriminator), f"is a {type(d).__name__}, not a ganfw.contracts.Discriminator")
    shape = _image_shape(d, image_shape)
    k = _num_classes(d, num_classes)
    images = random_images(batch, shape).requires_grad_(True)
    labels = (torch.arange(batch) % k,) if k else ()

    d.train()
    logits = d(images, *labels)
    check_tensor("forward(images) in train mode", logits, (batch,), dtype=torch.float32)
    _check_parameter_gradients(d, logits, "the logits")
    (input_grad,) = torch.autograd.grad(d(images, *labels).sum(), images, create_graph=True, allow_unused=True)
    expect(input_grad is not None, "the logits do not depend on the images")
    check_tensor("the gradient of the logits with respect to the images", input_grad, images.shape)
    check_gradients("a gradient penalty (double backward)", input_grad.square().sum(), _parameters(d), every=False)

    inputs = (images.detach(), *labels)
    _check_eval_batch_of_one(d, [x[:1] for x in inputs], (1,))
    if k:
        _check_labels_matter(d, inputs, "the logits")
    check_state_round_trip(d, *inputs)
    check_device_moves(d, *inputs)


def _num_classes(module: Generator | Discriminator, num_classes: int | None) -> int:
    k = module.num_classes
    expect(isinstance(k, int) and not isinstance(k, bool) and k >= 0, f"num_classes is {k!r}, expected an int >= 0")
    if num_classes is not None:
        expect(
            k == num_classes,
            f"num_classes is {k}, but it was built with num_classes={num_classes}"
            if num_classes
            else f"num_classes is {k}, but its spec is not conditional (conditional=True)",
        )
    return k


def _check_labels_matter(module: Generator | Discriminator, inputs: Sequence[Tensor], what: str) -> None:
    """In eval mode, shifting every label to the next class changes the outputs."""
    first, labels = inputs
    module.eval()
    with torch.no_grad():
        classes = module.num_classes
        changed = not torch.equal(module(first, labels), module(first, (labels + 1) % classes))
    expect(changed, f"{what} do not depend on the labels (a conditional component must use them)")


def check_state_round_trip(module: nn.Module, *inputs: Tensor) -> None:
    """Save ``module``'s state as ganfw's checkpoints do (one safetensors file) and load it into a
    copy whose state was scrambled: in eval mode the copy must give exactly the same outputs.

    ``inputs``: what the module is called with ((N, Z) noise or (N, C, H, W) images, then
    labels (N,) for a conditional one).
    """
    module = copy.deepcopy(module).eval()
    with torch.no_grad():
        expected = module(*inputs)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "state.safetensors"
        try:
            save_checkpoint(path, {"net": module}, {}, {}, {})
        except Exception as e:  # safetensors refuses some state (non-tensor values, ...)
            raise ContractError(f"its state_dict cannot be saved as safetensors: {type(e).__name__}: {e}") from None
        state = load_checkpoint(path).module_state("net")
    twin = copy.deepcopy(module)
    with torch.no_grad():
        for tensor in twin.state_dict().values():
            if tensor.is_floating_point():
                tensor.add_(torch.randn_like(tensor))
    try:
        twin.load_state_dict(state)
    except RuntimeError as e:
        raise ContractError(f"its state_dict does not load back from safetensors: {e}") from None
    with torch.no_grad():
        restored = twin(*inputs)
    expect(
        torch.equal(restored, expected),
        "outputs differ after a state_dict round trip through safetensors (is some state outside the state_dict?)",
    )


def check_device_moves(module: nn.Module, *inputs: Tensor) -> None:
    """``module.to(device)`` runs on every device of :func:`~ganfw.testing.contract.devices` and,
    in eval mode, matches the CPU's outputs (to 1e-3: GPUs may use TF32); ``inputs`` as for
    :func:`check_state_round_trip`."""
    module = copy.deepcopy(module).eval()
    with torch.no_grad():
        expected = module(*inputs)
    for device in devices():
        moved = copy.deepcopy(module).to(device)
        with torch.no_grad():
            out = moved(*(x.to(device) for x in inputs))
        expect(out.device.type == device.type, f"after .to({device}) its output is on {out.device}")
        expect(
            torch.allclose(out.cpu().float(), expected.float(), rtol=1e-3, atol=1e-3),
            f"after .to({device}) its outputs differ from the CPU's",
        )


def _image_shape(module: Generator | Discriminator, image_shape: ImageShape | None) -> ImageShape:
    shape = tuple(module.image_shape)
    expect(
        len(shape) == 3 and all(isinstance(n, int) and n >= 1 for n in shape),
        f"image_shape is {module.image_shape!r}, expected (C, H, W)",
    )
    if image_shape is not None:
        expect(shape == tuple(image_shape), f"image_shape is {shape}, but it was built for {tuple(image_shape)}")
    return as_image_shape(shape)


def _parameters(module: nn.Module) -> list[nn.Parameter]:
    params = [p for p in module.parameters() if p.requires_grad]
    expect(params, "has no trainable parameters")
    return params


def _check_parameter_gradients(module: nn.Module, output: Tensor, what: str) -> None:
    """Backpropagate a random projection of ``output`` (any shape) to the parameters."""
    weights = torch.randn(output.shape, generator=torch.Generator().manual_seed(1))
    check_gradients(f"a projection of {what}", (output * weights).sum(), _parameters(module), every=False)


def _check_eval_batch_of_one(
    module: nn.Module,
    inputs: Sequence[Tensor],
    shape: tuple[int, ...],
    low: float | None = None,
    high: float | None = None,
) -> None:
    module.eval()
    with torch.no_grad():
        first, second = module(*inputs), module(*inputs)
    check_tensor("forward on a batch of one in eval mode", first, shape, dtype=torch.float32, low=low, high=high)
    expect(torch.equal(first, second), "forward in eval mode is not deterministic")
