"""The ``wandb`` callback, read back from the transaction logs W&B writes offline (through
:mod:`ganfw_plugins.trackers.wandb_log`, itself checked on a run written by wandb directly): a
real run cut short and resumed into the same run id (each step once, the grids, the config, the
checkpoints), the contract kit, the mode chosen without an account, and the one line without the
package."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
import wandb
from PIL import Image

from ganfw.checkpoint import latest_checkpoint, load_training_checkpoint
from ganfw.errors import UserError
from ganfw.plugins import load_registry
from ganfw.testing import check_component
from ganfw_plugins.trackers import WandbParams
from ganfw_plugins.trackers.wandb_log import BLOCK, history, items, last_steps, records, run_logs
from ganfw_plugins.trackers.wandb_tracker import WandbTracker, has_api_key, resolve_mode
from tests.plugins.trackers.runs import DROPPED, RUN_NAME, WARNING, TrackedRun, expected_numbers, grid_cells, probe_view

#: A config value longer than two blocks of the log: its record is cut into first, middle and last chunks.
LONG = "0123456789" * (BLOCK // 4)


def of_kind(logs: list[Path], kind: str) -> list:
    """The records of one kind (``"run"``, ``"config"``, ``"artifact"``, ``"exit"``) of the logs, in order."""
    return [getattr(r, kind) for path in logs for r in records(path) if r.WhichOneof("record_type") == kind]


@pytest.fixture(scope="module")
def direct_log(tmp_path_factory) -> Path:
    """The transaction log of a run that wandb itself wrote offline: a long config value, two
    history rows."""
    folder = tmp_path_factory.mktemp("direct")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WANDB_MODE", "offline")
        mp.setenv("WANDB_SILENT", "true")
        run = wandb.init(project="direct", dir=str(folder), config={"long": LONG, "n": 3})
        run.log({"loss/d": 1.5}, step=1)
        run.log({"loss/d": 2.5, "eval/fid": 40.0}, step=2)
        run.finish()
        wandb.teardown()  # finish() returns before the log is written out; the service's end waits for it
    (log,) = run_logs(folder / "wandb", run.id)
    return log


@pytest.mark.slow
def test_the_reader_gives_back_what_wandb_wrote(direct_log):
    (run,) = of_kind([direct_log], "run")
    assert run.project == "direct" and direct_log.name == f"run-{run.run_id}.wandb"
    config = items(run.config.update)
    assert (config["long"], config["n"]) == (LONG, 3)
    assert history([direct_log]) == [(1, {"loss/d": 1.5}), (2, {"loss/d": 2.5, "eval/fid": 40.0})]
    assert last_steps([direct_log]) == {"loss/d": 2, "eval/fid": 2}


@pytest.mark.slow
def test_the_reader_stops_at_a_torn_end(direct_log, tmp_path):
    data = direct_log.read_bytes()
    whole = len(list(records(direct_log)))
    torn = tmp_path / "torn.wandb"
    torn.write_bytes(data[: len(data) - 5])  # the last record cut short
    assert len(list(records(torn))) == whole - 1
    broken = bytearray(data)
    broken[3 * BLOCK // 2] ^= 0xFF  # a flipped byte inside the long config's record
    torn.write_bytes(bytes(broken))
    assert [r.WhichOneof("record_type") for r in records(torn)] == ["header"]
    torn.write_bytes(b"not a log")
    with pytest.raises(ValueError, match="not a W&B transaction log"):
        list(records(torn))


def logs_of(tracked: TrackedRun) -> tuple[str, list[Path]]:
    """The W&B run id the checkpoint keeps (the ``wandb`` callback's state) and its logs."""
    state = load_training_checkpoint(latest_checkpoint(tracked.path / "checkpoints")).state
    run_id = state["parts"]["callbacks.wandb"]["run_id"]
    return run_id, run_logs(tracked.path / "wandb", run_id)


@pytest.mark.slow
def test_one_run_id_over_the_resume(tracked: TrackedRun):
    run_id, logs = logs_of(tracked)
    assert len(logs) == 2  # the first process's, the resumed one's
    assert sorted(p.parent for p in logs) == sorted((tracked.path / "wandb").glob("offline-run-*"))
    runs = of_kind(logs, "run")
    assert [(r.run_id, r.project, r.display_name) for r in runs] == [(run_id, "tiny", RUN_NAME)] * 2
    assert [e.exit_code for e in of_kind(logs, "exit")] == [0, 0]


@pytest.mark.slow
def test_history_holds_each_step_once(tracked: TrackedRun):
    _, logs = logs_of(tracked)
    logged: dict[str, dict[int, float]] = {}
    for step, row in history(logs):
        for key, value in row.items():
            assert step not in logged.get(key, {}), (key, step)  # no step twice
            logged.setdefault(key, {})[step] = value
    samples = logged.pop("samples")
    assert logged == expected_numbers(tracked)
    assert sorted(samples) == [2, 4, 6]
    for epoch, (step, image) in enumerate(sorted(samples.items()), 1):
        (path,) = [p.parent / "files" / image["path"] for p in logs if (p.parent / "files" / image["path"]).exists()]
        assert image["caption"] == f"epoch {epoch}", step
        assert (image["width"], image["height"]) == (62, 62), step
        assert np.array_equal(grid_cells(np.asarray(Image.open(path)), 28), tracked.grid(epoch)), step


@pytest.mark.slow
def test_config_is_the_recipe_each_process_trained_with(tracked: TrackedRun):
    _, logs = logs_of(tracked)
    first_run, _ = of_kind(logs, "run")
    config = {k: v for k, v in items(first_run.config.update).items() if k != "_wandb"}
    assert config == tomllib.loads(tracked.first_recipe)
    (resumed,) = of_kind(logs[1:], "config")
    assert items(resumed.update)["train"]["epochs"] == 3


@pytest.mark.slow
def test_each_final_checkpoint_is_a_model_artifact(tracked: TrackedRun):
    run_id, logs = logs_of(tracked)
    artifacts = of_kind(logs, "artifact")
    assert [(a.name, a.type, sorted(a.aliases)) for a in artifacts] == [
        (f"checkpoint-{run_id}", "model", ["latest", f"step-{step}"]) for step in (4, 6)
    ]
    (entry,) = artifacts[-1].manifest.contents
    last = tracked.path / "checkpoints" / "step_00000006.safetensors"
    assert (entry.path, entry.local_path, entry.size) == (last.name, str(last), last.stat().st_size)


@pytest.mark.slow
def test_warnings_and_a_stop_are_in_the_summary_and_a_stop_finishes_the_run(tmp_path):
    tracker, view = WandbTracker(WandbParams(log_checkpoint=False)), probe_view(tmp_path / "run", 3)
    tracker.on_run_start(view)
    tracker.on_log(view, WARNING)
    tracker.on_log(view, {"event": "stop", "step": 3, "reason": "early stopping: fid did not improve"})
    tracker.on_run_end(view)  # step 3 of 8: not the end, but stopped
    logs = run_logs(tmp_path / "run" / "wandb", tracker.run_id)
    summary = {k: v for update in of_kind(logs, "summary") for k, v in items(update.update).items()}
    assert summary["warning/d-winning"] == "step 3: **d-winning** (epoch 1, health): D is right about 99% of images"
    assert summary["stop"] == "step 3: early stopping: fid did not improve"
    assert [e.exit_code for e in of_kind(logs, "exit")] == [0]


@pytest.mark.slow
def test_the_contract_kit_passes():
    check_component(load_registry().resolve("callback", "wandb"))


def test_auto_mode_is_offline_without_an_api_key(tmp_path, monkeypatch):
    monkeypatch.delenv("WANDB_MODE")
    netrc = tmp_path / "netrc"
    netrc.write_text("machine example.org login user password secret\n")
    monkeypatch.setenv("NETRC", str(netrc))
    assert not has_api_key() and resolve_mode("auto") == "offline"
    assert resolve_mode("online") == "online"
    netrc.write_text("machine api.wandb.ai login user password 0123456789\n")  # what wandb login writes
    assert has_api_key() and resolve_mode("auto") == "online"
    monkeypatch.setenv("WANDB_BASE_URL", "https://wandb.example.org")  # a team's own server
    assert resolve_mode("auto") == "offline"
    monkeypatch.setenv("WANDB_API_KEY", "0123456789")
    assert resolve_mode("auto") == "online"
    monkeypatch.setenv("WANDB_MODE", "offline")
    assert resolve_mode("auto") == "offline"


def test_without_the_package_the_callback_is_one_user_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "wandb", None)  # import fails
    message = 'Weights & Biases tracking (the callback "wandb") needs the package wandb: pip install "ganfw[wandb]"'
    with pytest.raises(UserError, match=f"^{re.escape(message)}$"):
        WandbTracker(WandbParams())


@pytest.mark.slow
def test_wandb_sync_would_upload_both_logs_into_the_run(tracked: TrackedRun):
    """``wandb sync RUN/wandb/offline-run-*`` (docs/tracking.md) finds the two logs of the run."""
    _, logs = logs_of(tracked)
    folders = [str(p.parent) for p in logs]
    env = {k: v for k, v in os.environ.items() if k not in DROPPED}
    sync = subprocess.run(
        [sys.executable, "-m", "wandb", "sync", "--dry-run", *folders],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert sync.returncode == 0, sync.stdout + sync.stderr
    listed = [line.split()[-1] for line in (sync.stdout + sync.stderr).splitlines() if line.endswith(".wandb")]
    assert sorted(listed) == sorted(str(p) for p in logs)
