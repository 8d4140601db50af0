"""The ``ganfw`` command line.

Torch is imported only inside the commands that train or sample, so ``ganfw --help``,
``ganfw list`` and ``ganfw check`` answer instantly.
"""

from __future__ import annotations

import gc
import json
import logging
import shlex
import sys
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

import typer
import typer.core
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ganfw.errors import UserError, printable
from ganfw.params import describe
from ganfw.paths import refused, shown
from ganfw.plugins import Component, Registry, load_registry
from ganfw.specs import KINDS
from ganfw.version import __version__


def _flags_untyped(params: list[Any]) -> list[Any]:
    """``params`` with the flags' type column left blank in ``--help`` (typer shows ``<bool>``
    for a flag, which takes no value)."""
    for param in params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
    return params


class _Group(typer.core.TyperGroup):
    """``ganfw`` itself: its flags (``--verbose``, ``--version``) shown without a type."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _flags_untyped(super().get_params(ctx))


app = typer.Typer(
    cls=_Group,
    help="ganfw: a plugin-based GAN framework for PyTorch.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
out = Console(emoji=False, highlight=False)
# Messages on stderr stay one line each, whatever the terminal width, and print verbatim.
err = Console(stderr=True, soft_wrap=True, emoji=False, highlight=False)


class _State:
    verbose = False
    disabled: set[str] = set()
    registry: Registry | None = None


def registry() -> Registry:
    """Load plugins once per invocation; print a one-line warning per broken plugin."""
    if _State.registry is None:
        _State.registry = load_registry(disabled=_State.disabled)
        for problem in _State.registry.problems:
            err.print(f"[yellow]warning:[/] {escape(printable(problem.line()))}")
            if _State.verbose and problem.traceback:
                err.print(problem.traceback, markup=False)
        if _State.registry.problems and not _State.verbose:
            err.print("(run with -v for tracebacks)", style="dim")
    return _State.registry


def fail(message: str) -> typer.Exit:
    """Print ``error: message`` on stderr, as one line whatever the message holds (control
    characters escaped: :func:`ganfw.errors.printable`), and return the exit (status 2) to raise."""
    err.print(f"[red]error:[/] {escape(printable(message))}")
    return typer.Exit(2)


def say(line: str) -> None:
    """Print ``line`` on stderr verbatim (no markup), its control characters escaped: a path
    or a name a user chose may hold any."""
    err.print(printable(line), markup=False)


#: The largest seed an option takes (as ``train.seed``): torch and numpy take it, and so do the
#: seeds derived from it.
MAX_SEED = 2**62


def _check_seed(seed: int, option: str = "--seed") -> None:
    """A seed must be an integer from 0 to :data:`MAX_SEED`: one line otherwise."""
    if not 0 <= seed <= MAX_SEED:
        raise fail(f"{option} {seed}: a seed is an integer from 0 to 2**62")


#: Options that may be given alone or with one word after them: ``--resume`` (continue the
#: run) or ``--resume auto`` (continue it if it has a checkpoint, else start it).
OPTIONAL_VALUES = {"--resume": ("auto",)}
#: The value an option of :data:`OPTIONAL_VALUES` takes when it is given alone.
ALONE = "yes"


def _optional_values(args: list[str]) -> list[str]:
    """``args`` with each option of :data:`OPTIONAL_VALUES` joined to its value
    (``--resume auto`` -> ``--resume=auto``), or given :data:`ALONE` when no such value
    follows it (``--resume --quiet``, ``--resume RECIPE``)."""
    result: list[str] = []
    rest = list(args)
    while rest:
        arg = rest.pop(0)
        if arg == "--":
            return [*result, arg, *rest]
        if arg in OPTIONAL_VALUES:
            arg += "=" + (rest.pop(0) if rest and rest[0] in OPTIONAL_VALUES[arg] else ALONE)
        result.append(arg)
    return result


class _OneValueEach(typer.core.TyperCommand):
    """A command whose options that take one value refuse to be given twice (``--n 5 --n 6``
    would silently mean 6), in one line; options that repeat (``--set``, ``--metrics``) do.
    Its flags show no type in ``--help``; ``--resume`` takes an optional value."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _flags_untyped(super().get_params(ctx))

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        args = _optional_values(args)
        _, _, order = self.make_parser(ctx).parse_args(args=list(args))
        counts = Counter(
            p for p in order if isinstance(p, typer.core.TyperOption) and not (p.multiple or p.is_flag or p.count)
        )
        for option, times in counts.items():
            if times > 1:
                name = max(option.opts, key=len)
                raise UserError(f"{name} is given {times} times; it takes one value, so give it once")
        return super().parse_args(ctx, args)


def command(name: str | None = None) -> Any:
    """``@app.command``, with options given twice refused (:class:`_OneValueEach`)."""
    return app.command(name, cls=_OneValueEach)


def _version(value: bool) -> None:
    if value:
        print(f"ganfw {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    verbose: bool = typer.Option(
        False,
        "--verbose",
        "-v",
        help="Show tracebacks of plugin errors and the details plugins log (e.g. each skipped file).",
    ),
    disable_plugin: list[str] = typer.Option(
        [], "--disable-plugin", metavar="NAME", help="Skip a plugin (repeatable; also GANFW_DISABLE_PLUGINS=a,b)."
    ),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    _State.verbose = verbose
    _State.disabled = set(disable_plugin)
    _State.registry = None
    _show_plugin_logs(verbose)


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time of each record."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


class _EscapingFormatter(logging.Formatter):
    """Each record one line, its control characters escaped: plugins log file and class names
    (the image folder's skipped files), which may hold any."""

    def format(self, record: logging.LogRecord) -> str:
        return printable(super().format(record))


def _show_plugin_logs(verbose: bool) -> None:
    """Plugins' warnings go to stderr as bare lines; with ``-v`` their details (INFO) too. The
    loggers are those of the packages the ``ganfw`` entry points name (read without importing)."""
    from importlib.metadata import entry_points

    for package in sorted({ep.value.split(".")[0].split(":")[0] for ep in entry_points(group="ganfw")}):
        logger = logging.getLogger(package)
        if not logger.handlers:
            handler = _StderrHandler()
            handler.setFormatter(_EscapingFormatter("%(message)s"))
            logger.addHandler(handler)
            logger.propagate = False
        logger.setLevel(logging.INFO if verbose else logging.WARNING)


def _component_row(c: Component, clashing: bool, with_params: bool) -> dict[str, Any]:
    row: dict[str, Any] = {
        "kind": c.spec.kind,
        "name": c.spec.name,
        "qualified_name": c.qualified_name,
        "plugin": c.plugin,
        "package": c.package,
        "version": c.version,
        "summary": c.spec.summary,
        "clash": clashing,
    }
    if with_params:
        row["params"] = [vars(p) for p in describe(c.spec.params)]
    return row


def _nothing_found(name: str | None, kind: str | None, plugin: str | None) -> str:
    """``no component named 'x' of kind 'loss' in plugin 'p'``: what a filtered list lacked."""
    return (
        "no component"
        + (f" named {name!r}" if name else "")
        + (f" of kind {kind!r}" if kind else "")
        + (f" in plugin {plugin!r}" if plugin else "")
    )


@command("list")
def list_components(
    name: str | None = typer.Argument(None, help="Only components of this name (or plugin:name)."),
    kind: str | None = typer.Option(None, "--kind", "-k", help=f"Only one kind: {', '.join(KINDS)}."),
    plugin: str | None = typer.Option(
        None,
        "--plugin",
        help="Only the components of this plugin (its entry-point name, as the plugin column shows it).",
    ),
    params: bool = typer.Option(False, "--params", "-p", help="Show each component's parameters."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list instead of a table."),
) -> None:
    """List every component from every installed plugin (filters combine)."""
    if kind is not None and kind not in KINDS:
        raise fail(f"--kind: unknown kind {kind!r}; kinds: {', '.join(KINDS)}")
    reg = registry()
    plugins = sorted({c.plugin for c in reg.components})
    if plugin is not None and plugin not in plugins:
        raise fail(f"--plugin: no plugin named {plugin!r}; plugins: {', '.join(plugins)}")
    clashes = reg.clashes()
    order = list(KINDS)
    shown = sorted(
        (
            c
            for c in reg.components
            if (kind is None or c.spec.kind == kind)
            and (plugin is None or c.plugin == plugin)
            and (name is None or name in (c.spec.name, c.qualified_name))
        ),
        key=lambda c: (order.index(c.spec.kind), c.spec.name, c.plugin),
    )
    if not shown and (name is not None or plugin is not None):
        raise fail(_nothing_found(name, kind, plugin))
    rows = [_component_row(c, (c.spec.kind, c.spec.name) in clashes, params) for c in shown]
    if as_json:
        print(json.dumps(rows, indent=2, default=str))
        return
    if not rows:  # only a --kind that no installed plugin offers
        out.print(f"no {kind} components installed")
        return
    _print_table(rows)
    for (k, n), providers in sorted(clashes.items()):
        if kind in (None, k) and (plugin is None or any(p.plugin == plugin for p in providers)):
            names = ", ".join(p.qualified_name for p in providers)
            out.print(
                f"[red]clash:[/] {k} {escape(repr(n))} is offered by several plugins; recipes must write one of: {escape(names)}"
            )
    if params:
        for row in rows:
            _print_params(row)


def _print_table(rows: list[dict[str, Any]]) -> None:
    table = Table(title="ganfw components", title_justify="left")
    for column in ("kind", "name", "plugin", "version", "summary"):
        table.add_column(column, overflow="fold")
    for row in rows:
        name_cell = row["name"] + (" [red](clash)[/]" if row["clash"] else "")
        table.add_row(row["kind"], name_cell, escape(row["plugin"]), escape(row["version"]), escape(row["summary"]))
    out.print(table)


def _print_params(row: dict[str, Any]) -> None:
    table = Table(title=f"{row['kind']} {row['qualified_name']}", title_justify="left")
    for column in ("param", "type", "default", "doc"):
        table.add_column(column, overflow="fold")
    for p in row["params"]:
        table.add_row(p["name"], escape(p["type"]), escape(json.dumps(p["default"])), escape(p["doc"]))
    if not row["params"]:
        table.add_row("(none)", "", "", "")
    out.print(table)


SetOption = typer.Option(
    [], "--set", "-s", metavar="KEY=VALUE", help="Override a recipe value (TOML syntax; repeatable)."
)


#: How ``ganfw check`` names where the data root came from (see ganfw.paths.resolve_data_root).
_ROOT_SOURCES = {
    "data.root": "the recipe's data.root",
    "GANFW_DATA": "the GANFW_DATA environment variable",
    "cache": "the user cache: neither data.root nor GANFW_DATA is set",
}


def _data_root_line(root: str | None) -> str:
    """``/abs/path (from GANFW_DATA ...)``: the data root a run of the recipe would use here."""
    from ganfw.paths import resolve_data_root

    path, source = resolve_data_root(root)
    return f"{path} (from {_ROOT_SOURCES[source]})"


RecipeArgument = typer.Argument(
    ...,
    metavar="RECIPE",
    help="A recipe file (TOML), or the name of a bundled recipe (ganfw recipes); a file of that name wins.",
)


@command("recipes")
def list_recipes(as_json: bool = typer.Option(False, "--json", help="Print a JSON list instead of a table.")) -> None:
    """List the recipes installed with ganfw: run one by name (ganfw run NAME), or copy it to edit (ganfw cp NAME)."""
    from ganfw.bundled import bundled_recipes

    found = bundled_recipes()
    if as_json:
        rows = [
            {"name": r.name, "summary": r.summary, "path": str(r.path), "requires": r.requires and vars(r.requires)}
            for r in found
        ]
        print(json.dumps(rows, indent=2))
        return
    table = Table(title="bundled recipes (ganfw run NAME, ganfw cp NAME FILE)", title_justify="left")
    table.add_column("name", no_wrap=True)
    table.add_column("summary", overflow="fold")
    table.add_column("needs", overflow="fold")
    for r in found:
        needs = "" if r.requires is None else r.requires.package + ("" if r.requires.installed else " (not installed)")
        table.add_row(r.name, escape(r.summary), escape(needs))
    out.print(table)
    for r in found:
        if r.requires is not None and not r.requires.installed:
            out.print(escape(r.requires.needed_by(r.name)), soft_wrap=True)


@command("cp")
def copy_recipe(
    name: str = typer.Argument(..., help="A bundled recipe (ganfw recipes)."),
    dest: Path | None = typer.Argument(
        None, help="Where to write it (default: ./NAME.toml; a directory gets NAME.toml)."
    ),
    force: bool = typer.Option(False, "--force", "-f", help="Replace an existing file."),
) -> None:
    """Copy a bundled recipe to edit; it keeps extending the bundled recipes it builds on."""
    from ganfw.bundled import copy_recipe as copy

    path = copy(name, dest, force)
    say(f"copied {name} to {shown(path)}: edit it, then ganfw run {shown(path)}")


@command()
def check(
    recipe: str = RecipeArgument,
    overrides: list[str] = SetOption,
) -> None:
    """Validate a recipe, look at its data and print it fully resolved, with the device, precision and data it gets here."""
    path, resolved = _load_recipe(recipe, overrides)
    from ganfw.device import describe_machine
    from ganfw.preflight import check_recipe

    data = check_recipe(resolved)

    print(f"# {shown(path)}: resolved recipe (valid)")
    print(f"# on this machine: {describe_machine(resolved.train.device, resolved.train.precision)}")
    if data.uses_root:
        print(f"# data root: {_data_root_line(resolved.data_root)}")
    print(f"# data: {printable(data.summary.line() if data.summary else data.unread)}")
    print(resolved.to_toml(), end="")


def _load_recipe(recipe: str, overrides: list[str]) -> tuple[Path, Any]:
    """The recipe file a ``RECIPE`` argument names, and the recipe loaded from it with the
    overrides; an error of a recipe that needs a plugin package not installed names it."""
    from ganfw.bundled import missing_requirement, recipe_file
    from ganfw.recipe import load_recipe

    path = recipe_file(recipe)
    try:
        return path, load_recipe(path, registry(), overrides)
    except UserError as e:
        needs = missing_requirement(path)
        if needs is None:
            raise
        raise UserError(f"{e}; {needs}") from e


@command()
def run(
    recipe: str = RecipeArgument,
    overrides: list[str] = SetOption,
    out: Path | None = typer.Option(None, "--out", "-o", help="Run directory (default: <output.dir>/<recipe>-<time>)."),
    resume: str | None = typer.Option(
        None,
        "--resume",
        metavar="[auto]",
        help="Continue the run in --out from its newest checkpoint; --resume auto: continue it if --out holds a "
        "checkpoint, else start it there (a job scheduler can resubmit the same command).",
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Plain log lines instead of a progress bar."),
    budget: str | None = typer.Option(
        None,
        "--budget",
        metavar="DURATION",
        help="Train to a deadline: stop once this much training time is spent (90s, 10m, 1h30m); the same as "
        "--set train.budget=DURATION, given last.",
    ),
) -> None:
    """Train a recipe; outputs go to a run directory (see README: "The run directory")."""
    from ganfw.api import toml_value
    from ganfw.rundir import AUTO, open_run_dir, resuming

    if resume not in (None, ALONE, AUTO):
        raise fail(f"--resume={resume}: give --resume alone (continue the run in --out) or --resume {AUTO}")
    if budget is not None:
        overrides = [*overrides, f"train.budget={toml_value(budget, 'train.budget')}"]
    recipe_path, resolved = _load_recipe(recipe, overrides)
    from ganfw.distributed import ranks_from_env
    from ganfw.engine import train  # imported before the run directory is made: nothing to undo if it fails
    from ganfw.progress import PlainReporter, RichReporter, SilentReporter

    ranks = ranks_from_env()
    continuing = resuming(out, AUTO if resume == AUTO else resume is not None)
    run_dir = open_run_dir(out, continuing, resolved.output.dir, recipe_path, ranks)
    reporter = SilentReporter() if not ranks.is_main else PlainReporter() if quiet else RichReporter()
    fresh = " (--resume auto: no checkpoint there yet, so the run starts)" if resume == AUTO and not continuing else ""
    if not train(resolved, run_dir, _Announcing(reporter, run_dir.path, ranks.is_main, fresh), continuing, registry()):
        if ranks.is_main:
            say(f"to continue: {resume_command(run_dir.path)}")
        raise typer.Exit(130)
    if ranks.is_main:
        say(f"done: {run_dir.path}")


def resume_command(run: Path) -> str:
    """The command that continues the run in ``run`` with its own resolved recipe (its ``--set``
    overrides included): ``ganfw run RUN/recipe.toml --out RUN --resume``."""
    return f"ganfw run {shlex.quote(str(run / 'recipe.toml'))} --out {shlex.quote(str(run))} --resume"


class _Announcing:
    """A reporter that says ``run directory: PATH`` (on rank 0) before the first thing it shows,
    once the run is put together (data read, networks built): a run refused before training
    names no directory, and leaves none behind (:func:`ganfw.rundir.discard_if_unused`)."""

    def __init__(self, reporter: Any, path: Path, main: bool, note: str = "") -> None:
        self.reporter, self.line, self.pending = reporter, f"run directory: {path}{note}", main

    def _announce(self) -> None:
        if self.pending:
            self.pending = False
            say(self.line)

    def start(self, total: int, done: int, steps_per_epoch: int) -> None:
        self._announce()
        self.reporter.start(total, done, steps_per_epoch)

    def message(self, text: str) -> None:
        self._announce()
        self.reporter.message(text)

    def warning(self, code: str, text: str) -> None:
        self._announce()
        self.reporter.warning(code, text)

    def update(self, step: int, record: dict[str, Any]) -> None:
        self.reporter.update(step, record)

    def epoch_end(self, epoch: int, epochs: int) -> None:
        self.reporter.epoch_end(epoch, epochs)

    def close(self) -> None:
        self.reporter.close()


def _check_n(n: int) -> None:
    """``--n`` must ask for at least one image: one line otherwise (not click's usage box)."""
    if n < 1:
        raise fail(f"--n {n}: ask for 1 image or more")


#: ``--best``: a run directory's best checkpoint instead of its newest.
BestOption = typer.Option(
    False, "--best", help="Use the run's best checkpoint (kept by [output] keep_best), not its newest."
)


def _best(target: Path, best: bool) -> Path:
    """``target``, or with ``--best`` the best checkpoint of the run directory ``target``."""
    from ganfw.training.best import best_checkpoint

    return best_checkpoint(target) if best else target


@command()
def sample(
    target: Path = typer.Argument(..., help="A run directory or a checkpoint file."),
    n: int = typer.Option(16, "--n", "-n", help="How many images (1 or more)."),
    out: Path = typer.Option(
        ..., "--out", "-o", help="Output file: .png or .jpg (a grid), .pt or .npy (N x C x H x W floats in [-1, 1])."
    ),
    seed: int = typer.Option(0, "--seed", help="Noise seed."),
    label: str | None = typer.Option(
        None,
        "--label",
        "-l",
        metavar="CLASS|all",
        help="Conditional generators: every image of this class (an index 0..K-1 or a class name), or 'all' "
        "for a grid with one column per class (--n rounded up to a multiple of K). Without it a conditional "
        "generator draws classes uniformly. With a conditional generator, .npy writes the labels (int64) "
        "beside the images (sevens.npy -> sevens.labels.npy) and .pt a dict {images, labels, class_names}.",
    ),
    best: bool = BestOption,
) -> None:
    """Draw images from a trained generator (of one class, or of each class, when it is conditional)."""
    from ganfw.sample_args import check_sample

    check_sample(target, out)  # before torch is imported
    _check_n(n)
    _check_seed(seed)
    from ganfw.sampling import sample_to_file

    say(sample_to_file(_best(target, best), registry(), n=n, out=out, seed=seed, label=label))


@command()
def interpolate(
    target: Path = typer.Argument(..., help="A run directory or a checkpoint file."),
    out: Path = typer.Option(
        ...,
        "--out",
        "-o",
        help="Output file: .gif (one grid per frame, looping) or .png (one row per walk, one column per frame).",
    ),
    n: int = typer.Option(16, "--n", "-n", help="How many walks (shown side by side)."),
    keyframes: int = typer.Option(
        4, "--keyframes", "-k", help="Latent points each walk visits before looping back (2 or more)."
    ),
    frames: int = typer.Option(12, "--frames", help="Frames between two keyframes."),
    seed: int = typer.Option(0, "--seed", help="Noise seed (frame 0 is what ganfw sample draws with this seed)."),
    label: str | None = typer.Option(
        None,
        "--label",
        "-l",
        metavar="CLASS|all",
        help="Conditional generators: walk within this class, or 'all' (walks cycle through the classes).",
    ),
    fps: int = typer.Option(12, "--fps", help="GIF frames per second (1 to 50)."),
) -> None:
    """Latent walks: spherical interpolation between seeded noise vectors, as an animated GIF or a PNG strip."""
    from ganfw.sample_args import check_source, check_walk

    check_walk(out, n, keyframes, frames, fps)  # before torch is imported
    check_source(target)
    _check_seed(seed)
    from ganfw.interpolate import interpolate_to_file

    say(
        interpolate_to_file(
            target, registry(), n=n, keyframes=keyframes, frames=frames, seed=seed, label=label, out=out, fps=fps
        )
    )


@command()
def report(
    target: Path = typer.Argument(..., metavar="RUN", help="A run directory."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Where to write the page (default: RUN/report.html)."),
) -> None:
    """Write one self-contained HTML page of a run (recipe, grids of every epoch, curves, scores, warnings, environment)."""
    from ganfw.report import write_report

    say(f"wrote {write_report(target, out)}")


EvalTarget = typer.Argument(
    ...,
    help="A run directory, a checkpoint (a conditional generator draws uniform classes), or images: .npy/.pt "
    "(N x C x H x W, or N x H x W for grey images, floats in [-1, 1] or uint8, with the labels ganfw sample saves "
    "beside them) or a PNG grid.",
)
EvalMetrics = typer.Option(
    [],
    "--metrics",
    "-m",
    help="Metric names, comma-separated or repeated (-m fid -m kid) (default: all installed, less those that need "
    "labels, such as conditional-accuracy, when the images have none, and those that need a judge when there is none).",
)
EvalDataset = typer.Option(
    None,
    "--dataset",
    "-d",
    metavar="DATASET_OR_RECIPE",
    help="The data to score against (its held-out split, seen by its judge): a dataset name or a recipe file. "
    "Needed for image files; a run or checkpoint uses its recipe's.",
)
EvalFeatures = typer.Option(
    None,
    "--features",
    help="Feature space: auto, judge (the dataset's), inception (torch-fidelity's Inception, as papers) or dinov2 "
    "(FD-DINOv2); default: the protocol's. Weights: $GANFW_WEIGHTS, ~/.cache/ganfw/weights, torch hub's checkpoints.",
)
EvalProtocol = typer.Option(
    "quick",
    "--protocol",
    help="quick: the held-out split, the judge, 10,000 images; paper: 50,000 images against the training set in "
    "Inception's features, IS from Inception's classifier (docs/metrics.md).",
)
EvalData = typer.Option(
    None,
    "--data",
    help="Data root of the dataset, read once to cache its reference features (default: the recipe's data.root, "
    "GANFW_DATA, then the user cache).",
)
EvalBootstrap = typer.Option(
    None,
    "--bootstrap",
    help="Resamples of the generated images for FID's 95% confidence interval (0: none; default: 200 in the "
    "judge's features, 0 in a network's).",
)


@command()
def evaluate(
    target: Path = EvalTarget,
    n: int | None = typer.Option(
        None,
        "--n",
        "-n",
        help="Images to draw from a generator (or the first N of a file); default: the protocol's, 10,000 / 50,000.",
    ),  # fmt: skip
    metrics: list[str] = EvalMetrics,
    seed: int = typer.Option(
        0, "--seed", help="Seed of the noise, of the metrics' random subsets and of the bootstrap."
    ),
    dataset: str | None = EvalDataset,
    features: str | None = EvalFeatures,
    protocol: str = EvalProtocol,
    data: str | None = EvalData,
    bootstrap: int | None = EvalBootstrap,
    json_out: Path | None = typer.Option(
        None, "--json", help="Also write the scores and their protocol to this JSON file."
    ),
    best: bool = BestOption,
) -> None:
    """Score generated images against their dataset (FID with a bootstrap interval, KID, IS, class coverage, precision/recall, conditional accuracy), by the quick or the paper protocol."""
    from ganfw.evaluation.cli import evaluate_command

    if n is not None:
        _check_n(n)
    _check_seed(seed)
    if bootstrap is not None and bootstrap < 0:
        raise fail(f"--bootstrap {bootstrap}: ask for 0 resamples (no interval) or more")
    evaluate_command(
        _best(target, best),
        registry(),
        n=n,
        metrics=",".join(metrics) if metrics else None,
        seed=seed,
        features=features,
        dataset=dataset,
        data_root=data,
        bootstrap=bootstrap,
        json_out=json_out,
        console=out,
        protocol=protocol,
    )


@command("train-judge")
def train_judge(
    dataset: str = typer.Argument(
        ...,
        metavar="DATASET_OR_RECIPE",
        help="A labelled dataset (ganfw list --kind dataset) "
        "or a recipe file naming one (such as an image folder with class sub-folders).",
    ),
    epochs: int = typer.Option(12, "--epochs", help="Passes over the training images (1 or more)."),
    out_path: Path | None = typer.Option(
        None,
        "--out",
        "-o",
        help="Where to write the judge (default: the user cache, "
        "judges/<dataset key>.safetensors, where ganfw evaluate finds it).",
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the initialisation, batch order, augmentation and dropout."),
    data: str | None = typer.Option(
        None,
        "--data",
        help="Data root of the dataset (default: the recipe's data.root, GANFW_DATA, then the user cache).",
    ),
) -> None:
    """Train the judge of a labelled dataset (the classifier whose eyes ganfw evaluate looks through) and record its held-out accuracy."""
    from ganfw.evaluation.cli import train_judge_command

    if epochs < 1:
        raise fail(f"--epochs {epochs}: train for 1 epoch or more")
    _check_seed(seed)
    line = train_judge_command(
        dataset,
        registry(),
        epochs=epochs,
        seed=seed,
        out=out_path,
        data_root=data,
        log=say,
    )
    out.print(line, markup=False, soft_wrap=True)


@command("new-plugin")
def new_plugin(
    name: str = typer.Argument(..., help="Plugin name: lower-case words joined by - or _ (e.g. spectral)."),
    kinds: list[str] = typer.Option(
        [], "--kind", "-k", metavar="KIND", help="Add an example component of this kind (repeatable; default: loss)."
    ),
    directory: Path | None = typer.Option(None, "--dir", help="Package directory to create (default: ./ganfw-NAME)."),
) -> None:
    """Create a plugin package ready to install, test and publish (see docs/plugins.md)."""
    from ganfw.scaffold import create_plugin, next_steps

    print(next_steps(create_plugin(name, kinds, directory), name))


@command()
def doctor(
    probe_seconds: float = typer.Option(
        3.0, "--probe-seconds", min=0.0, help="Time to spend timing training steps (0: none)."
    ),
    reprobe: bool = typer.Option(
        False, "--reprobe", help="Time the precision probe again (replacing its cached result) instead of showing it."
    ),
) -> None:
    """Describe this machine for a bug report: versions, devices, CPU, precisions, data, step speed."""
    from ganfw.doctor import report

    report(registry(), probe_seconds, print, reprobe=reprobe)


def script() -> None:
    """The ``ganfw`` command and ``python -m ganfw``: :func:`main`, then an exit that leaves the
    objects still alive to the operating system. The interpreter's last garbage collections
    walk every object torch created (1.5 s at the end of a 5 s run); frozen, they are skipped,
    while exit handlers still run. Not in :func:`main`, which callers may run in a live process."""
    try:
        main()
    finally:
        gc.freeze()


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``ganfw`` script: user errors become one line and exit status 2."""
    try:
        app(args=argv, prog_name="ganfw", standalone_mode=True)
    except UserError as e:
        if _State.verbose and e.__cause__ is not None:  # e.g. what a plugin's factory raised
            err.print("".join(traceback.format_exception(e.__cause__)), markup=False, end="")
        raise SystemExit(fail(str(e)).exit_code) from None
    except OSError as e:  # the last resort for a path: a full disk, a name too long, no permission...
        if _State.verbose:
            err.print("".join(traceback.format_exception(e)), markup=False, end="")
        raise SystemExit(fail(refused(e, "ganfw")).exit_code) from None
