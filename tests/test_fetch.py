"""fetch_tiktok136 against a local HTTP server laid out like the pinned GitHub commit."""
import functools
import hashlib
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from npcae.data import DataError, fetch_tiktok136, load_folder
from npcae.data.fetch import SHA256, default_dest


@pytest.fixture
def remote(tmp_path, tiktok_dir):
    """Serve copies of the shared files as data/val_image/ and data/val_mask/; yields the server."""
    root = tmp_path / "remote"
    for folder, remote_folder in (("images", "val_image"), ("masks", "val_mask")):
        (root / "data" / remote_folder).mkdir(parents=True)
        for path in (tiktok_dir / folder).glob("*.png"):
            shutil.copy(path, root / "data" / remote_folder / path.name)
    requests = []

    class Handler(SimpleHTTPRequestHandler):
        def do_GET(self):
            requests.append(self.path)
            super().do_GET()

        def log_message(self, *args):  # keep pytest output clean
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    server.root, server.requests = root, requests
    yield server
    server.shutdown()
    server.server_close()


def leftovers(folder):
    return sorted(p.name for p in folder.rglob("*") if p.is_file() and p.name.startswith("."))


def test_the_embedded_checksums_match_the_shared_record(tiktok_dir):
    listed = {}
    for line in (tiktok_dir / "SHA256SUMS").read_text().splitlines():
        digest, relative = line.split()
        listed[relative] = digest
    assert listed == SHA256 and len(SHA256) == 20
    for relative, digest in SHA256.items():
        assert hashlib.sha256((tiktok_dir / relative).read_bytes()).hexdigest() == digest


def test_fetch_downloads_verifies_and_then_uses_the_cache(remote, tmp_path, tiktok_dir):
    dest = fetch_tiktok136(tmp_path / "cache", base_url=remote.url)
    assert dest == tmp_path / "cache"
    assert len(remote.requests) == 20
    assert "/data/val_image/136_00090.png" in remote.requests
    assert "/data/val_mask/136_00420.png" in remote.requests
    for relative in SHA256:
        assert (dest / relative).read_bytes() == (tiktok_dir / relative).read_bytes()
    assert leftovers(dest) == []
    record = load_folder(dest, size=(64, 32))
    assert record.images.shape == (10, 64, 32, 3)

    fetch_tiktok136(dest, base_url=remote.url)
    assert len(remote.requests) == 20  # every file was cached and verified: no new request
    (dest / "masks" / "136_00150.png").write_bytes(b"damaged")
    (dest / "images" / "136_00300.png").unlink()
    fetch_tiktok136(dest, base_url=remote.url)
    assert sorted(remote.requests[20:]) == ["/data/val_image/136_00300.png", "/data/val_mask/136_00150.png"]
    repaired = (dest / "masks" / "136_00150.png").read_bytes()
    assert hashlib.sha256(repaired).hexdigest() == SHA256["masks/136_00150.png"]


def test_corrupted_download_is_refused_and_leaves_nothing(remote, tmp_path):
    served = remote.root / "data" / "val_mask" / "136_00210.png"
    data = bytearray(served.read_bytes())
    data[100] ^= 0xFF
    served.write_bytes(bytes(data))
    dest = tmp_path / "cache"
    with pytest.raises(DataError) as info:
        fetch_tiktok136(dest, base_url=remote.url)
    message = str(info.value)
    assert "checksum mismatch" in message and "masks/136_00210.png" in message and "\n" not in message
    assert not (dest / "masks" / "136_00210.png").exists()
    assert leftovers(dest) == []


def test_env_vars_choose_the_url_and_the_cache(remote, tmp_path, monkeypatch):
    monkeypatch.setenv("NPCAE_TIKTOK_URL", remote.url)
    monkeypatch.setenv("NPCAE_CACHE", str(tmp_path / "cache-root"))
    assert default_dest() == tmp_path / "cache-root" / "tiktok-136"
    dest = fetch_tiktok136()
    assert dest == tmp_path / "cache-root" / "tiktok-136"
    assert len(list((dest / "images").glob("*.png"))) == 10
    monkeypatch.delenv("NPCAE_CACHE")
    assert default_dest().parts[-3:] == (".cache", "npcae", "tiktok-136")


def test_network_errors_become_one_line(remote, tmp_path):
    with pytest.raises(DataError, match="could not download .*HTTP 404"):
        fetch_tiktok136(tmp_path / "a", base_url=remote.url + "/wrong")
    remote.shutdown()
    remote.server_close()
    with pytest.raises(DataError, match="could not download") as info:
        fetch_tiktok136(tmp_path / "b", base_url=remote.url, timeout=5)
    assert "\n" not in str(info.value)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
