"""The shards of a WebDataset: the recipe's URLs expanded (braces) and checked, their samples
read in order through webdataset's tar reader, and their number counted once and cached."""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ganfw.plugin import UserError, user_cache_dir
from ganfw_plugins.mnist.idx import _one_line

#: ``scheme:`` at the start of what webdataset opens by itself (``http://``, ``pipe:``, ``s3://``).
_REMOTE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:")


def webdataset_module() -> Any:
    """The ``webdataset`` package, or a one-line error saying how to install it."""
    try:
        import webdataset
    except ImportError:
        raise UserError("webdataset needs the webdataset package: pip install 'ganfw[webdataset]'") from None
    return webdataset


def expand(urls: list[str], what: str) -> tuple[str, ...]:
    """Each of ``urls`` brace-expanded, local paths made absolute (from the working directory)
    and checked to exist; ``what`` names the param in messages (``data.params.urls``)."""
    wds = webdataset_module()
    out = []
    for i, url in enumerate(urls):
        for one in wds.shardlists.expand_urls(url):
            if not _REMOTE.match(one):
                path = Path(one).expanduser().absolute()
                if not path.is_file():
                    raise UserError(f"webdataset: shard {path} does not exist ({what}[{i}] = {url!r})")
                one = str(path)
            out.append(one)
    return tuple(out)


def samples(urls: list[str] | tuple[str, ...]) -> Iterator[dict[str, Any]]:
    """The samples of the shards, in order: ``{"__key__", "__url__", <extension>: bytes}``."""
    wds = webdataset_module()
    try:
        yield from wds.tarfile_samples([{"url": url} for url in urls])
    except Exception as e:  # a truncated tar, an unreachable URL
        raise UserError(f"webdataset: cannot read the shards: {_one_line(e)}") from None


def count(urls: tuple[str, ...], image_keys: list[str]) -> int:
    """How many samples of the shards have an image, counted by reading them once; the count is
    cached in ``<user cache>/webdataset/`` by the shards' URLs (and, for files, size and
    modification time)."""
    signature = [[url, *_stamp(url)] for url in urls]
    digest = hashlib.sha256(json.dumps([signature, image_keys]).encode()).hexdigest()[:16]
    cache = user_cache_dir() / "webdataset" / f"count-{digest}.json"
    if cache.is_file():
        return json.loads(cache.read_text())["images"]
    n = sum(1 for sample in samples(urls) if any(key in sample for key in image_keys))
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps({"images": n, "shards": signature}))
    return n


def _stamp(url: str) -> list[int]:
    """A local shard's size and modification time (ns); nothing for a remote one."""
    if _REMOTE.match(url):
        return []
    status = os.stat(url)
    return [status.st_size, status.st_mtime_ns]
