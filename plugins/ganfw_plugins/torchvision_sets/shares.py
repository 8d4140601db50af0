"""Dividing a streamed dataset between processes: ranks, and DataLoader workers within a rank."""

from __future__ import annotations

import torch


def worker_share(shard: int, shards: int) -> tuple[int, int]:
    """(share, shares): ``shard`` of ``shards`` (this rank's) divided again between the DataLoader
    workers of this process, worker ``w`` of ``W`` taking share ``shard * W + w`` of
    ``shards * W``; outside a worker, ``(shard, shards)`` as given."""
    info = torch.utils.data.get_worker_info()
    if info is None:
        return shard, shards
    return shard * info.num_workers + info.id, shards * info.num_workers
