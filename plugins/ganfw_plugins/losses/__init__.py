"""Plugin ``losses``: the classic adversarial objectives, the relativistic one, and R1 around any
of them."""

from __future__ import annotations

from dataclasses import dataclass

from ganfw.plugin import ComponentRef, ComponentSpec, component_param, hookimpl, param

GANFW_API = 2


@dataclass(frozen=True)
class NonSaturatingParams:
    label_smoothing: float = param(
        0.0, "one-sided label smoothing: D's target for real images is 1 - this", min=0.0, max=0.5
    )


@dataclass(frozen=True)
class WassersteinGPParams:
    gp_weight: float = param(10.0, "weight of the gradient penalty (lambda)", min=0.0)
    drift: float = param(0.0, "weight of the drift term mean(D(real)^2) that keeps logits near 0", min=0.0)


@dataclass(frozen=True)
class R1Params:
    base: ComponentRef = component_param("loss", "non-saturating", "the loss the R1 penalty is added to")
    gamma: float = param(10.0, "R1 weight: the penalty is gamma / 2 * E ||grad_x D(x_real)||^2", min=0.0)
    every: int = param(16, "lazy regularisation: compute the penalty on every n-th D step, scaled by n", min=1)


@dataclass(frozen=True)
class R1R2Params:
    base: ComponentRef = component_param("loss", "relativistic", "the loss R1 and R2 are added to")
    gamma: float = param(
        0.05,
        "weight of both: gamma / 2 * (E ||grad_x D(x_real)||^2 + E ||grad_x D(x_fake)||^2) (R3GAN's CIFAR-10 start)",
        min=0.0,
    )
    every: int = param(1, "lazy regularisation: compute both on every n-th D step, scaled by n (R3GAN: 1)", min=1)


@dataclass(frozen=True)
class ClassCEParams:
    base: ComponentRef = component_param("loss", "hinge", "the loss the class cross-entropy is added to")
    weight: float = param(
        1.0, "weight of D's term: CE of softmax_c D(x, c) on real images with their labels (0: left out)", min=0.0
    )
    g_weight: float = param(
        0.1, "weight of G's term: the same CE on G's images with the labels asked for (0: left out)", min=0.0
    )
    every: int = param(
        4, "lazy regularisation: compute each term on every n-th update of its network, scaled by n", min=1
    )
    batch_shrink: int = param(
        2, "the terms read the first batch / n images of the step (each is scored under all K labels)", min=1
    )


@dataclass(frozen=True)
class MismatchParams:
    base: ComponentRef = component_param("loss", "hinge", "the loss whose fakes the mismatched real pairs join")
    weight: float = param(
        1.0,
        "weight of the base loss's fake term on real images under wrong labels (1: a fake's; 0: left out)",
        min=0.0,
    )
    every: int = param(1, "lazy regularisation: compute the term on every n-th D step, scaled by n", min=1)


@dataclass(frozen=True)
class PathLengthParams:
    base: ComponentRef = component_param(
        "loss", "r1", "the loss the penalty is added to (r1: StyleGAN2's R1-regularised non-saturating loss)"
    )
    weight: float = param(2.0, "weight of the path-length penalty (StyleGAN2: 2; 0: left out, not computed)", min=0.0)
    every: int = param(4, "lazy regularisation: compute the penalty on every n-th G step, scaled by n", min=1)
    decay: float = param(
        0.01, "decay of the running mean path length a: a += decay * (batch mean - a)", min=0.0, max=1.0
    )
    batch_shrink: int = param(2, "the penalty's batch is the step's divided by this (at least one image)", min=1)


def _spec(name: str, summary: str, cls: str, params: type | None = None, module: str = "objectives") -> ComponentSpec:
    return ComponentSpec(
        name=name, kind="loss", summary=summary, factory=f"ganfw_plugins.losses.{module}:{cls}", params=params
    )


@hookimpl
def ganfw_losses() -> list[ComponentSpec]:
    return [
        _spec(
            "non-saturating",
            "BCE on logits; G maximises log D(G(z)) (Goodfellow et al. 2014)",
            "NonSaturating",
            NonSaturatingParams,
        ),
        _spec("minimax", "The original minimax game; G minimises log(1 - D(G(z)))", "Minimax"),
        _spec("hinge", "Hinge loss (Lim & Ye 2017; Miyato et al. 2018)", "Hinge"),
        _spec("least-squares", "Least-squares GAN, targets 0 and 1 (Mao et al. 2017)", "LeastSquares"),
        _spec(
            "wasserstein-gp",
            "Wasserstein loss with gradient penalty (Gulrajani et al. 2017)",
            "WassersteinGP",
            WassersteinGPParams,
        ),
        _spec(
            "relativistic",
            "Relativistic average non-saturating loss, RaGAN (Jolicoeur-Martineau 2019)",
            "RelativisticAverage",
            module="relativistic",
        ),
        _spec(
            "r1",
            "Any loss plus the lazy R1 penalty on D's real-image gradient (Mescheder et al. 2018)",
            "R1",
            R1Params,
            module="composite",
        ),
        _spec(
            "r1-r2",
            "Any loss plus lazy R1 and R2 (generated-image) penalties; R3GAN with relativistic (Huang et al. 2024)",
            "R1R2",
            R1R2Params,
            module="r1_r2",
        ),
        _spec(
            "class-ce",
            "Any loss plus a class cross-entropy read from the conditional D, softmax over D(x, c) (AC-GAN's classifier)",
            "ClassCE",
            ClassCEParams,
            module="class_ce",
        ),
        _spec(
            "mismatch",
            "Any loss plus real images under wrong labels as fakes for a conditional D (Reed et al. 2016)",
            "Mismatch",
            MismatchParams,
            module="mismatch",
        ),
        _spec(
            "path-length",
            "Any loss plus StyleGAN2's lazy path-length penalty on G (Karras et al. 2020)",
            "PathLength",
            PathLengthParams,
            module="path_length",
        ),
    ]
