"""Finding a feature network's weights file: ``$GANFW_WEIGHTS``, the user cache, torch hub's
checkpoints, in that order; a download into the user cache when none has it (from a server on
this machine here); one line saying where to put which file when it cannot be had."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from ganfw.errors import UserError
from ganfw.evaluation.weights import WeightsFile, find_weights, search_dirs

NAME = "net-1234.pth"


@pytest.fixture
def places(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """The three places, empty, as this test's environment names them."""
    folders = {
        "env": tmp_path / "env",
        "cache": tmp_path / "cache" / "ganfw" / "weights",
        "hub": tmp_path / "torch" / "hub" / "checkpoints",
    }
    monkeypatch.setenv("GANFW_WEIGHTS", str(folders["env"]))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv("GANFW_OFFLINE", raising=False)
    return folders


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """A web server on 127.0.0.1 serving ``tmp_path / "served"``; its address."""
    root = tmp_path / "served"
    root.mkdir()
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None  # quiet
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_the_places_are_tried_in_order(places):
    assert search_dirs() == [places["env"], places["cache"], places["hub"]]
    weights = WeightsFile(NAME, "http://127.0.0.1:9/none", "Net")
    for name in ("hub", "cache", "env"):  # each found place wins over those after it
        places[name].mkdir(parents=True)
        (places[name] / NAME).write_bytes(name.encode())
        assert find_weights(weights) == places[name] / NAME


def test_a_missing_file_is_downloaded_into_the_user_cache(places, server, tmp_path):
    (tmp_path / "served" / NAME).write_bytes(b"weights" * 1000)
    path = find_weights(WeightsFile(NAME, f"{server}/{NAME}", "Net"))
    assert path == places["cache"] / NAME and path.read_bytes() == b"weights" * 1000
    assert sorted(p.name for p in places["cache"].iterdir()) == [NAME]  # no temporary file left


def test_a_failed_download_says_where_to_put_which_file(places, server):
    with pytest.raises(UserError) as caught:
        find_weights(WeightsFile(NAME, f"{server}/{NAME}", "Net"))  # the server has no such file: 404
    message = str(caught.value)
    assert message.startswith(f"Net weights are not available offline: downloading {NAME} failed (HTTP Error 404")
    assert message.endswith(f"; put {NAME} (from {server}/{NAME}) in {places['env']} or {places['cache']}")
    assert "\n" not in message and not places["cache"].exists()


def test_offline_there_is_no_download_attempt(places, monkeypatch):
    monkeypatch.setenv("GANFW_OFFLINE", "1")
    monkeypatch.delenv("GANFW_WEIGHTS")
    with pytest.raises(UserError) as caught:
        find_weights(WeightsFile(NAME, "http://127.0.0.1:9/never-asked", "Net"))
    assert str(caught.value) == (
        f"Net weights are not on this machine (GANFW_OFFLINE=1): put {NAME} (from http://127.0.0.1:9/never-asked) "
        f"in {places['cache']}"
    )
