"""Sample-quality evaluation against a dataset's held-out split (or, in the paper protocol, its
training images), through the eyes of that dataset's classifier (its judge), of Inception or
of DINOv2.

    datasets.py     the dataset scored against: a run's own, a checkpoint's recipe's, a named one
    judge.py        the judge network, its weights file and what it knows (JudgeInfo)
    judges.py       finding a dataset's judge (shipped in judges/, then the user cache)
    train_judge.py  training a judge (``ganfw train-judge``)
    features.py     feature spaces: the judge's (default), Inception's or DINOv2's, or auto
    network.py      a pretrained feature network: uint8 RGB images in, features (and logits) out
    inception.py    Inception-v3 exactly as torch-fidelity runs it
    dinov2.py       DINOv2 ViT-L/14 (FD-DINOv2), timm's network holding Meta's checkpoint
    weights.py      finding a network's weights file offline (GANFW_WEIGHTS, caches), or downloading it
    protocols.py    the quick and paper protocols, and the Protocol every score carries
    reference.py    the real images (held-out split or training set) embedded once, cached on disk
    images.py       images read from .npy / .pt / PNG-grid files
    bootstrap.py    FID's bootstrap confidence interval
    caveats.py      warnings where scores cannot be trusted; class names in the details
    evaluate.py     evaluate_images, evaluate_generator: metrics resolved, run, gathered, with
                    their protocol and warnings
    cli.py          the bodies of ``ganfw evaluate`` and ``ganfw train-judge``

The metrics themselves are components (kind ``metric``) from plugins; the built-in ones are in
the ``metrics`` plugin.
"""
