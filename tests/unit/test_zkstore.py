"""Circuit artifacts fetched for a stranger's circuit (``bridge.zkstore``): by file and HTTP URI
from a real local server, within size and time limits, checked by sha-256 before anything is
kept; registration names that carry the input layout; keys in and out of the registry's form."""

from __future__ import annotations

import hashlib
import http.server
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.errors import InvalidInput
from bridge.zkstore import (
    ArtifactError,
    Artifacts,
    Limits,
    check_zkey,
    fetch,
    key_bytes,
    layout_name,
    parse_name,
    vkey_json,
)

REPO = Path(__file__).resolve().parents[2]
BUILT = REPO / "examples" / "circuits" / "range32"
BODY = b"artifact bytes " * 1000  # 15,000 bytes


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/slow":
            self.send_response(200)
            self.end_headers()
            for _ in range(50):
                self.wfile.write(b"x" * 1000)
                self.wfile.flush()
                time.sleep(0.1)
            return
        self.send_response(200)
        if self.path != "/no-length":
            self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


SHA = hashlib.sha256(BODY).digest()


def test_an_http_artifact_is_fetched_checked_and_cached(server: str, tmp_path: Path) -> None:
    got = fetch(f"{server}/a.wasm", SHA, cache=tmp_path)
    assert got.read_bytes() == BODY and got.name == SHA.hex()
    # cached by hash: a second fetch reads nothing (the URI is not even asked)
    assert fetch("http://127.0.0.1:9/gone", SHA, cache=tmp_path) == got


def test_a_wrong_hash_is_refused_and_nothing_is_kept(server: str, tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match=r"has sha-256 .*, the registration says 00+: "):
        fetch(f"{server}/a.wasm", bytes(32), cache=tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("path", ["/a.wasm", "/no-length"])
def test_over_the_size_limit_is_refused_with_or_without_a_declared_length(
        server: str, tmp_path: Path, path: str) -> None:
    assert fetch(f"{server}{path}", SHA, cache=tmp_path / "ok",
                 limits=Limits(fetch_bytes=len(BODY))).exists()  # exactly at the limit
    with pytest.raises(ArtifactError, match=f"over the {len(BODY) - 1:,}-byte artifact limit"):
        fetch(f"{server}{path}", SHA, cache=tmp_path / "no",
              limits=Limits(fetch_bytes=len(BODY) - 1))


def test_a_slow_server_is_cut_at_the_time_limit(server: str, tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(ArtifactError, match="took over 1 s to fetch"):
        fetch(f"{server}/slow", SHA, cache=tmp_path, limits=Limits(fetch_seconds=1))
    assert time.monotonic() - started < 3


def test_unreachable_missing_and_unsupported_uris_say_so(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="is unreachable"):
        fetch("http://127.0.0.1:9/a.wasm", SHA, cache=tmp_path)
    with pytest.raises(ArtifactError, match="does not exist"):
        fetch((tmp_path / "none.wasm").as_uri(), SHA, cache=tmp_path)
    with pytest.raises(ArtifactError, match="only file://, http:// and https://"):
        fetch("ipfs://Qm/a.wasm", SHA, cache=tmp_path)
    local = tmp_path / "a.wasm"
    local.write_bytes(BODY)
    assert fetch(str(local), SHA, cache=tmp_path / "c").read_bytes() == BODY  # a plain path


def test_names_carry_the_input_layout() -> None:
    assert parse_name("range32(x)") == ("range32", (("x", 1),))
    assert parse_name("merkle-root-8(leaves[8])") == ("merkle-root-8", (("leaves", 8),))
    assert parse_name("two(a, b[2])") == ("two", (("a", 1), ("b", 2)))
    assert parse_name("poseidon-chain-16") == ("poseidon-chain-16", None)
    assert layout_name("m", [("leaves", 8), ("s", 1)]) == "m(leaves[8],s)"
    for bad in ("", "x()", "x(a,a)", "x(a[0])", "x(1a)", "-x(a)", "x(a[10000])"):
        with pytest.raises(InvalidInput):
            parse_name(bad)
    assert parse_name("x(a[9999])")[1] == (("a", 9999),)


def test_a_layout_must_hold_as_many_inputs_as_registered() -> None:
    art = Artifacts(2, 1, bytes(32), bytes(32), "", "", "range32(x)")
    with pytest.raises(ArtifactError, match="its signals hold 1 inputs, the registration says 2"):
        art.layout()


def test_keys_round_trip_and_a_foreign_zkey_is_refused() -> None:
    vk = json.loads((BUILT / "range32_vk.json").read_text())
    key = key_bytes(vk)
    back = vkey_json(key, vk["nPublic"])
    for field in ("vk_alpha_1", "vk_beta_2", "vk_gamma_2", "vk_delta_2", "IC"):
        assert back[field] == vk[field], field
    check_zkey(BUILT / "range32.zkey", key, "range32")  # its own key
    with pytest.raises(ArtifactError, match="does not match the registered verification key"):
        check_zkey(REPO / "zk" / "build" / "merkle8.zkey", key, "range32")


def test_a_manifest_artifact_is_found_by_its_hash_whatever_uri_it_was_registered_with(
        tmp_path: Path) -> None:
    """A registration of a committed circuit names file:// URIs of the registering machine; any
    checkout holds the same bytes, found by hash without fetching."""
    wasm = REPO / "zk" / "build" / "merkle8_js" / "merkle8.wasm"
    sha = hashlib.sha256(wasm.read_bytes()).digest()
    got = fetch("file:///elsewhere/zk/build/merkle8_js/merkle8.wasm", sha, cache=tmp_path)
    assert got.read_bytes() == wasm.read_bytes()
