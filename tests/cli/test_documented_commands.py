"""Every command of the README and docs/*.md works after a plain ``pip install``, outside a
checkout (issue 22): each documented ``$ ganfw ...`` line of a console block is run, in the
order the page gives them, in an empty folder, by the non-editable install of ``installed``
(tests/cli/conftest.py), with the real MNIST as the data (``GANFW_DATA``, where a user's first
run would download it). Which blocks are run and which are only shown is marked in the docs
themselves (tests/cli/doc_commands.py says how); a page may not leave a command unmarked that
this test cannot run.

Commands that train for minutes or score 10,000 images are cut short, each by the arguments
:data:`SHORTENED` appends to it, and only those; they go last on the line, so they override the
documented ones (``--set`` and ``--n`` take the last value).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.cli.doc_commands import DOCS, REPO, Command, blocks, problems

#: An epoch of this many images, instead of the whole dataset's.
ONE_EPOCH = ("--set", "train.epochs=1", "--set", "data.limit=256")
#: Scores of this many images, instead of the protocol's 10,000.
FEW_IMAGES = ("--n", "300")

#: The documented commands cut short here, and how: the only arguments the test adds.
SHORTENED = {
    "ganfw run mnist_dcgan": ONE_EPOCH,
    "ganfw run mnist_quick --out runs/try": ONE_EPOCH,
    "ganfw run mnist_fast": ONE_EPOCH,
    "ganfw run my.toml --set train.epochs=1": ONE_EPOCH,
    "ganfw run mnist_cdcgan --out runs/cond": ONE_EPOCH,
    "ganfw run mnist_fast --set output.tensorboard=true --out runs/tb": ONE_EPOCH,
    "ganfw run mnist_fast --quiet --set optim.discriminator.lr=2e-3 --set train.epochs=1 --set data.limit=12800": (
        ONE_EPOCH
    ),
    # extends the finished run of runs/try by one epoch, not to 10
    "ganfw run runs/try/recipe.toml --out runs/try --resume --set train.epochs=10": ("--set", "train.epochs=2"),
    "ganfw run folder_dcgan --set data.params.path=photos --out runs/photos": ("--set", "train.epochs=1"),
    "ganfw train-judge runs/photos/recipe.toml": ("--epochs", "2"),
    "ganfw evaluate runs/try": FEW_IMAGES,
    "ganfw evaluate runs/cond --metrics fid,conditional-accuracy": FEW_IMAGES,
    "ganfw evaluate runs/photos": FEW_IMAGES,
    # no step timing: at least 3 steps of the course's DCGAN (batch 256) per precision, 40 s on a busy CPU
    "ganfw doctor": ("--probe-seconds", "0"),
}


def photos(folder: Path) -> None:
    """docs/own-images.md's ``photos/``: 40 pictures of each of two classes (bright and dark),
    of sizes from 24 to 60 pixels, as PNG and JPEG."""
    rng = np.random.default_rng(0)
    for name, base in (("cats", 200), ("dogs", 50)):
        (folder / "photos" / name).mkdir(parents=True)
        for i in range(40):
            h, w = rng.integers(24, 61, size=2)
            pixels = np.clip(base + rng.normal(0, 25, (h, w, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(folder / "photos" / name / f"{i:02d}.{'png' if i % 2 else 'jpg'}")


#: What a page's commands need in their folder before the first one runs.
SETUP = {"own-images.md": photos}

RUN = [doc for doc in DOCS if any(block.kind == "run" and block.commands for block in blocks(doc))]


def test_every_command_is_run_or_marked_and_named_as_a_pip_user_can():
    found = [problem for doc in DOCS for block in blocks(doc) for problem in problems(block)]
    assert not found, "\n".join(found)


def test_the_shortened_commands_are_documented_ones():
    documented = {command.plain for doc in RUN for block in blocks(doc) for command in block.commands}
    assert set(SHORTENED) <= documented, set(SHORTENED) - documented


@pytest.fixture(scope="module")
def documented(installed, mnist_root, cache_home, tmp_path_factory) -> dict[Path, list[tuple[Command, dict]]]:
    """Every page's commands run (:data:`RUN`), each page in an empty folder of its own and in its
    order, by one process of the installed ganfw, with a user cache holding what a first run
    leaves there (the MNIST test split's features): each command with its result."""
    root = tmp_path_factory.mktemp("documented")
    assert not root.is_relative_to(REPO)
    shutil.copytree(cache_home, root / "cache")
    pages = {doc: [c for block in blocks(doc) if block.kind == "run" for c in block.commands] for doc in RUN}
    todo = []
    for i, (doc, commands) in enumerate(pages.items()):
        folder = root / f"page{i}"
        folder.mkdir()
        SETUP.get(doc.name, lambda folder: None)(folder)
        todo += [{"cwd": str(folder), "argv": [*c.argv[1:], *SHORTENED.get(c.plain, ())]} for c in commands]
    (root / "commands.json").write_text(json.dumps(todo))
    env = {"GANFW_DATA": str(mnist_root), "XDG_CACHE_HOME": str(root / "cache"), "COLUMNS": "200"}
    driver = Path(__file__).with_name("doc_driver.py")
    ran = installed.run(str(driver), str(root / "commands.json"), str(root / "results.json"), cwd=root, env=env,
                        timeout=900)  # fmt: skip
    assert ran.returncode == 0, ran.both
    done = json.loads((root / "results.json").read_text())
    assert Path(done["ganfw"]).is_relative_to(installed.path)  # the installed copy, not the checkout
    results = iter(done["results"])
    return {doc: [(command, next(results)) for command in commands] for doc, commands in pages.items()}


@pytest.mark.parametrize("doc", RUN, ids=[str(doc.relative_to(REPO)) for doc in RUN])
def test_the_documented_commands_run_after_a_pip_install(doc, documented):
    failed = []
    for command, result in documented[doc]:
        said = result["stderr"].strip().splitlines()
        if command.error and (result["code"], said[-1:]) != (2, [command.error]):
            failed.append(f"{command.where}: `{command.text}` must fail with `{command.error}`: {said[-1:]}")
        elif not command.error and result["code"] != 0:
            failed.append(f"{command.where}: `{command.text}` -> status {result['code']}:\n{result['stderr'][-2000:]}")
    assert not failed, "\n".join(failed)
