"""Reading what a W&B run recorded on this machine, without the W&B servers: its transaction
logs, the ``run-<id>.wandb`` file that wandb writes in each ``<wandb dir>/{run,offline-run}-<date>-<id>/``
folder (online and offline alike; ``wandb sync`` uploads them).

The file is a LevelDB-style log (https://github.com/google/leveldb/blob/main/doc/log_format.md) of
wandb's own protobuf ``Record`` messages (``wandb.proto.wandb_internal_pb2``): a 7-byte header
(``:W&B``, magic 0xBEE1, version 0), then 32 KiB blocks of chunks, each with a 7-byte header
(CRC-32 of its type byte and data, data length, type: full, or first/middle/last of a record cut
across blocks). Reading stops at the first chunk whose checksum fails: the torn end a killed
process leaves.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HEADER = struct.pack("<4sHB", b":W&B", 0xBEE1, 0)
BLOCK = 32768
CHUNK = struct.Struct("<IHB")  # checksum, data length, type
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def chunks(data: bytes) -> Iterator[tuple[int, bytes]]:
    """The (type, data) chunks of a transaction log's bytes, up to the first torn one."""
    pos = len(HEADER)
    while pos + CHUNK.size <= len(data):
        room = BLOCK - pos % BLOCK
        if room < CHUNK.size:  # a block's tail too short for a chunk header is padding
            pos += room
            continue
        checksum, length, kind = CHUNK.unpack_from(data, pos)
        body = data[pos + CHUNK.size : pos + CHUNK.size + length]
        if len(body) < length or zlib.crc32(bytes([kind]) + body) != checksum:
            return
        yield kind, body
        pos += CHUNK.size + length


def records(path: Path) -> Iterator[Any]:
    """The ``wandb_internal_pb2.Record`` messages of the transaction log at ``path``, in order."""
    from wandb.proto import wandb_internal_pb2

    data = path.read_bytes()
    if not data.startswith(HEADER):
        raise ValueError(f"{path}: not a W&B transaction log (it does not start with {HEADER!r})")
    parts: list[bytes] = []
    for kind, body in chunks(data):
        parts = [body] if kind in (FULL, FIRST) else [*parts, body]
        if kind in (FULL, LAST):
            # wandb_internal_pb2 star-imports the classes of its protobuf version: mypy cannot see them
            record = wandb_internal_pb2.Record()  # type: ignore[attr-defined]
            record.ParseFromString(b"".join(parts))
            yield record


def items(updates: Any) -> dict[str, Any]:
    """History, summary or config items as a table: ``nested_key`` ``["samples", "path"]``
    becomes ``{"samples": {"path": ...}}``; values decoded from JSON."""
    table: dict[str, Any] = {}
    for item in updates:
        *parents, last = list(item.nested_key) or [item.key]
        inner = table
        for parent in parents:
            inner = inner.setdefault(parent, {})
        inner[last] = json.loads(item.value_json)
    return table


def run_logs(wandb_dir: Path, run_id: str) -> list[Path]:
    """The transaction logs of the run ``run_id`` under ``wandb_dir`` (one per process that
    logged to it: the first and each resume), oldest first."""
    folders = [*wandb_dir.glob(f"run-*-{run_id}"), *wandb_dir.glob(f"offline-run-*-{run_id}")]
    found = [folder / f"run-{run_id}.wandb" for folder in folders if (folder / f"run-{run_id}.wandb").is_file()]
    return sorted(found, key=lambda path: path.parent.name.removeprefix("offline-"))


def history(logs: list[Path]) -> list[tuple[int, dict[str, Any]]]:
    """Every history row of the logs: (step, {key: value}); wandb's own keys (``_step``,
    ``_runtime``, ...) left out."""
    rows = []
    for path in logs:
        for record in records(path):
            if record.WhichOneof("record_type") == "history":
                row = {k: v for k, v in items(record.history.item).items() if not k.startswith("_")}
                rows.append((record.history.step.num, row))
    return rows


def last_steps(logs: list[Path]) -> dict[str, int]:
    """The last step at which each key was logged."""
    last: dict[str, int] = {}
    for step, row in history(logs):
        for key in row:
            last[key] = max(step, last.get(key, step))
    return last
