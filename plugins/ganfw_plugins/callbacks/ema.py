"""An exponential moving average of the generator's weights."""

from __future__ import annotations

import copy

import torch

from ganfw.plugin import Callback, Generator, StepReport, TrainerView
from ganfw_plugins.callbacks import EMAParams


class GeneratorEMA(Callback):
    """A copy of G whose weights follow ``ema = beta * ema + (1 - beta) * G`` after every step
    (Karras et al. 2018, "Progressive growing of GANs"; Yazici et al. 2019, "The unusual
    effectiveness of averaging in GAN training"; Karras et al. 2020, StyleGAN2).

    ``beta`` is ``decay``, or, with ``half_life_images``, ``0.5 ** (images / half_life)`` for the
    step's ``images`` (all ranks: ``StepReport.images``), so that the average forgets at the same
    pace in images whatever the batch size; with ``rampup`` the half-life is at most ``rampup``
    times the images trained on so far (stylegan2-ada-pytorch's ``ema_rampup``). Until
    ``start_step`` steps are done the copy takes G's weights as they are. Buffers (batch norm
    statistics) are always copied from G. The copy is in eval mode, needs no gradients and is the
    generator the run samples and evaluates with. No randomness is drawn; the copy is saved as the
    module ``generator`` and the images seen in the state, so a resumed run continues bit for bit.
    """

    def __init__(self, params: EMAParams):
        self.params = params
        self.images = 0  # images trained on so far (all ranks)
        self.ema: Generator | None = None

    def beta(self, images: int) -> float:
        """The weight of the old average on a step of ``images`` images."""
        half_life = self.params.half_life_images
        if half_life is None:
            return self.params.decay
        if self.params.rampup is not None:
            half_life = min(half_life, self.images * self.params.rampup)
        return 0.5 ** (images / max(half_life, 1e-8))

    def setup(self, view: TrainerView) -> None:
        """Copy the freshly built (plain, unwrapped) generator."""
        self.ema = copy.deepcopy(view.generator).eval().requires_grad_(False)

    @torch.no_grad()
    def on_step_end(self, view: TrainerView, report: StepReport) -> None:
        """Move the average towards G; ``view.step - 1`` is the step just done."""
        if self.ema is None:
            raise RuntimeError("the EMA callback's on_step_end ran before its setup")
        self.images += report.images
        g, copying = view.generator, view.step - 1 < self.params.start_step
        beta = self.beta(report.images)
        for mine, theirs in zip(self.ema.parameters(), g.parameters(), strict=True):
            if copying:
                mine.copy_(theirs)
            else:
                mine.lerp_(theirs, 1.0 - beta)
        for kept, current in zip(self.ema.buffers(), g.buffers(), strict=True):
            kept.copy_(current)

    def state_dict(self) -> dict[str, int]:
        return {"images": self.images} if self.params.half_life_images is not None else {}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.images = int(state.get("images", 0))

    def modules(self) -> dict[str, torch.nn.Module]:
        return {} if self.ema is None else {"generator": self.ema}

    def sampling_generator(self) -> Generator | None:
        return self.ema
