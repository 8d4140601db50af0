"""The relativistic average loss: D judges whether a real image looks more real than the average
generated one, and the other way round."""

from __future__ import annotations

from torch import Tensor

from ganfw_plugins.losses.objectives import ParameterlessLoss, bce


def relative_logits(real_logits: Tensor, fake_logits: Tensor) -> tuple[Tensor, Tensor]:
    """``(real - mean(fake), fake - mean(real))``, shapes (N,) and (M,)."""
    return real_logits - fake_logits.mean(), fake_logits - real_logits.mean()


class RelativisticAverage(ParameterlessLoss):
    """Jolicoeur-Martineau 2019, "The relativistic discriminator: a key element missing from
    standard GAN" (RaSGAN, the non-saturating form).

    With ``r = real - mean(fake)`` and ``f = fake - mean(real)``: D minimises
    ``BCE(r, 1) + BCE(f, 0)`` (terms ``real``, ``fake``); G the mirror ``BCE(r, 0) + BCE(f, 1)``,
    so it needs D's logits on the real batch too (:attr:`g_needs_real`).
    """

    g_needs_real = True

    def d_loss(self, real_logits: Tensor, fake_logits: Tensor) -> dict[str, Tensor]:
        r, f = relative_logits(real_logits, fake_logits)
        return {"real": bce(r, 1.0), "fake": bce(f, 0.0)}

    def g_loss(self, real_logits: Tensor | None, fake_logits: Tensor) -> dict[str, Tensor]:
        if real_logits is None:
            raise ValueError("the relativistic loss needs D's logits on the real batch on G's step (g_needs_real)")
        r, f = relative_logits(real_logits, fake_logits)
        return {"real": bce(r, 0.0), "fake": bce(f, 1.0)}

    def statistics(self, real_logits: Tensor, fake_logits: Tensor) -> dict[str, Tensor]:
        """The defaults on the relative logits: ``acc_real`` is the share of real images D rates
        above the average fake, ``acc_fake`` of fakes rated below the average real, and
        ``d_real``/``d_fake`` the mean sigmoid of ``r`` and ``f``."""
        return super().statistics(*relative_logits(real_logits, fake_logits))
