"""Sample-quality evaluation against a dataset's held-out split, through the eyes of that
dataset's classifier (its judge) or of Inception.

    datasets.py     the dataset scored against: a run's own, a checkpoint's recipe's, a named one
    judge.py        the judge network, its weights file and what it knows (JudgeInfo)
    judges.py       finding a dataset's judge (shipped in judges/, then the user cache)
    train_judge.py  training a judge (``ganfw train-judge``)
    features.py     feature spaces: the judge's (default) or Inception's (inception.py)
    reference.py    the held-out split embedded once, cached on disk
    images.py       images read from .npy / .pt / PNG-grid files
    bootstrap.py    FID's bootstrap confidence interval
    evaluate.py     evaluate_images, evaluate_generator: metrics resolved, run, gathered, with
                    their protocol
    cli.py          the bodies of ``ganfw evaluate`` and ``ganfw train-judge``

The metrics themselves are components (kind ``metric``) from plugins; the built-in ones are in
the ``metrics`` plugin.
"""
