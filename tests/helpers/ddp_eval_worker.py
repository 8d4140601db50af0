"""Run by tests/training/test_distributed.py: evaluate the generator of a checkpoint as training
does at an epoch's end - alone (``python``), or under ``torchrun``, where each rank draws and
embeds its share of the images and rank 0 scores them - and write rank 0's scores (and the number of processes) to OUT (JSON).

    python -m torch.distributed.run --standalone --nproc_per_node=2 tests/helpers/ddp_eval_worker.py CKPT OUT
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

from ganfw.distributed import join, leave, ranks_from_env
from ganfw.evaluation.datasets import from_argument
from ganfw.evaluation.evaluate import evaluate_generator
from ganfw.plugins import load_registry
from ganfw.sampling import load_generator


def main() -> None:
    checkpoint, out = Path(sys.argv[1]), Path(sys.argv[2])
    ranks, registry = ranks_from_env(), load_registry()
    join(ranks, torch.device("cpu"), 60)
    generator = load_generator(checkpoint, registry)
    data = from_argument("mnist", registry)
    evaluation = evaluate_generator(generator, ["fid", "kid"], 300, registry, data, seed=3, ranks=ranks)
    if evaluation is not None:
        out.write_text(json.dumps({"scores": evaluation.scores, "world": ranks.world}))
    leave(together=True)


if __name__ == "__main__":
    main()
