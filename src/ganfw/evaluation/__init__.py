"""Sample-quality evaluation against MNIST, through the eyes of a shipped classifier (the judge).

    judge.py        the judge network and its shipped weights (judge.safetensors)
    train_judge.py  the command that trained them
    features.py     feature spaces: the judge's (default) or Inception's (inception.py)
    reference.py    the MNIST test split embedded once, cached on disk
    images.py       images read from .npy / .pt / PNG-grid files
    evaluate.py     evaluate_images, evaluate_generator: metrics resolved, run, gathered
    cli.py          the body of ``ganfw evaluate``

The metrics themselves are components (kind ``metric``) from plugins; the built-in ones are in
the ``metrics`` plugin.
"""
