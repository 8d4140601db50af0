"""Contract checks for generators and discriminators (``torch.nn.Module`` components).

Each check works on a deep copy: the module passed in is left as it was.
"""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path

import torch
from torch import Tensor, nn

from ganfw.checkpoint import load_checkpoint, save_checkpoint
from ganfw.contracts import Discriminator, Generator, ImageShape
from ganfw.testing.contract import ContractError, check_gradients, check_tensor, devices, expect, random_images


def check_generator(generator: Generator, image_shape: ImageShape | None = None, batch: int = 4) -> None:
    """Check a built generator.

    * it is a :class:`ganfw.contracts.Generator` with an int ``latent_dim`` >= 1 and the
      ``image_shape`` it was built for (``image_shape``; default: its own);
    * ``sample_latent(n)`` is (n, Z); ``forward`` maps (N, Z) to (N, C, H, W) float32 in [-1, 1],
      in train mode and, for a batch of one, deterministically in eval mode;
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
    z = g.sample_latent(batch, generator=torch.Generator().manual_seed(0))
    check_tensor(f"sample_latent({batch})", z, (batch, g.latent_dim))

    g.train()
    images = g(z)
    check_tensor("forward(z) in train mode", images, (batch, *shape), dtype=torch.float32, low=-1.0, high=1.0)
    _check_parameter_gradients(g, images, "the generated images")
    _check_eval_batch_of_one(g, z[:1], (1, *shape), low=-1.0, high=1.0)
    check_state_round_trip(g, z)
    check_device_moves(g, z)


def check_discriminator(discriminator: Discriminator, image_shape: ImageShape | None = None, batch: int = 4) -> None:
    """Check a built discriminator.

    * it is a :class:`ganfw.contracts.Discriminator` with the ``image_shape`` it was built for;
    * ``forward`` maps images (N, C, H, W) to finite float32 logits (N,), in train mode and, for a
      batch of one, deterministically in eval mode;
    * the logits depend on the images, and the gradients (also of a gradient penalty, which needs
      a double backward) are finite;
    * its state survives a checkpoint (safetensors) round trip, and it runs on every device.
    """
    d = copy.deepcopy(discriminator)
    expect(isinstance(d, Discriminator), f"is a {type(d).__name__}, not a ganfw.contracts.Discriminator")
    shape = _image_shape(d, image_shape)
    images = random_images(batch, shape).requires_grad_(True)

    d.train()
    logits = d(images)
    check_tensor("forward(images) in train mode", logits, (batch,), dtype=torch.float32)
    _check_parameter_gradients(d, logits, "the logits")
    (input_grad,) = torch.autograd.grad(d(images).sum(), images, create_graph=True, allow_unused=True)
    expect(input_grad is not None, "the logits do not depend on the images")
    check_tensor("the gradient of the logits with respect to the images", input_grad, images.shape)
    check_gradients("a gradient penalty (double backward)", input_grad.square().sum(), _parameters(d), every=False)

    images = images.detach()
    _check_eval_batch_of_one(d, images[:1], (1,))
    check_state_round_trip(d, images)
    check_device_moves(d, images)


def check_state_round_trip(module: nn.Module, inputs: Tensor) -> None:
    """Save ``module``'s state as ganfw's checkpoints do (one safetensors file) and load it into a
    copy whose state was scrambled: in eval mode the copy must give exactly the same outputs.

    ``inputs``: a batch the module accepts ((N, Z) noise or (N, C, H, W) images).
    """
    module = copy.deepcopy(module).eval()
    with torch.no_grad():
        expected = module(inputs)
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
        restored = twin(inputs)
    expect(
        torch.equal(restored, expected),
        "outputs differ after a state_dict round trip through safetensors (is some state outside the state_dict?)",
    )


def check_device_moves(module: nn.Module, inputs: Tensor) -> None:
    """``module.to(device)`` runs on every device of :func:`~ganfw.testing.contract.devices` and,
    in eval mode, matches the CPU's outputs (to 1e-3: GPUs may use TF32)."""
    module = copy.deepcopy(module).eval()
    with torch.no_grad():
        expected = module(inputs)
    for device in devices():
        moved = copy.deepcopy(module).to(device)
        with torch.no_grad():
            out = moved(inputs.to(device))
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
    return shape


def _parameters(module: nn.Module) -> list[nn.Parameter]:
    params = [p for p in module.parameters() if p.requires_grad]
    expect(params, "has no trainable parameters")
    return params


def _check_parameter_gradients(module: nn.Module, output: Tensor, what: str) -> None:
    """Backpropagate a random projection of ``output`` (any shape) to the parameters."""
    weights = torch.randn(output.shape, generator=torch.Generator().manual_seed(1))
    check_gradients(f"a projection of {what}", (output * weights).sum(), _parameters(module), every=False)


def _check_eval_batch_of_one(
    module: nn.Module, inputs: Tensor, shape: tuple[int, ...], low: float | None = None, high: float | None = None
) -> None:
    module.eval()
    with torch.no_grad():
        first, second = module(inputs), module(inputs)
    check_tensor("forward on a batch of one in eval mode", first, shape, dtype=torch.float32, low=low, high=high)
    expect(torch.equal(first, second), "forward in eval mode is not deterministic")
