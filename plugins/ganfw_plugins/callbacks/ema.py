"""An exponential moving average of the generator's weights."""

from __future__ import annotations

import copy

import torch

from ganfw.plugin import Callback, Generator, StepReport, TrainerView
from ganfw_plugins.callbacks import EMAParams


class GeneratorEMA(Callback):
    """A copy of G whose weights follow ``ema = decay * ema + (1 - decay) * G`` after every step
    (Karras et al. 2018, "Progressive growing of GANs"; Yazici et al. 2019, "The unusual
    effectiveness of averaging in GAN training"; Karras et al. 2020, StyleGAN2).

    Until ``start_step`` steps are done the copy takes G's weights as they are. Buffers (batch
    norm statistics) are always copied from G. The copy is in eval mode, needs no gradients and is
    the generator the run samples and evaluates with. No randomness is drawn and all state lives
    in the copy (saved as the module ``generator``), so a resumed run continues bit for bit.
    """

    def __init__(self, params: EMAParams):
        self.decay = params.decay
        self.start_step = params.start_step
        self.ema: Generator | None = None

    def setup(self, view: TrainerView) -> None:
        """Copy the freshly built (plain, unwrapped) generator."""
        self.ema = copy.deepcopy(view.generator).eval().requires_grad_(False)

    @torch.no_grad()
    def on_step_end(self, view: TrainerView, report: StepReport) -> None:
        """Move the average towards G; ``view.step - 1`` is the step just done."""
        g, copying = view.generator, view.step - 1 < self.start_step
        for mine, theirs in zip(self.ema.parameters(), g.parameters(), strict=True):
            if copying:
                mine.copy_(theirs)
            else:
                mine.lerp_(theirs, 1.0 - self.decay)
        for mine, theirs in zip(self.ema.buffers(), g.buffers(), strict=True):
            mine.copy_(theirs)

    def modules(self) -> dict[str, torch.nn.Module]:
        return {} if self.ema is None else {"generator": self.ema}

    def sampling_generator(self) -> Generator | None:
        return self.ema
