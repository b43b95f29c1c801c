"""fetch_tiktok136 and fetch_human_seg290 against a local HTTP server laid out like the pinned
GitHub commits."""
import contextlib
import functools
import hashlib
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path

import pytest

from npcae.data import DataError, fetch_tiktok136, load_folder
from npcae.data.fetch import parse_checksums
from npcae.data.sets import cityscapes_pix2pix, human_seg_290
from npcae.data.sets.tiktok_136 import SHA256, default_dest
from conftest import shared_data


@contextlib.contextmanager
def serving(root):
    """A local HTTP server of the files under `root`: .url, .root and .requests (paths asked for)."""
    requests = []

    class Handler(SimpleHTTPRequestHandler):
        # Headers and body go out in two writes; with Nagle's algorithm on, the body waits for
        # the client's delayed ACK, 40 ms a file here (0.8 s for tiktok-136's 20, 23 s for 580).
        disable_nagle_algorithm = True

        def do_GET(self):
            requests.append(self.path)
            super().do_GET()

        def log_message(self, *args):  # keep pytest output clean
            pass

    class Server(ThreadingHTTPServer):
        # fetch opens up to 8 connections at once; with the default backlog of 5 an unanswered
        # connection waits 1 s for its SYN to be sent again.
        request_queue_size = 64

    server = Server(("127.0.0.1", 0), functools.partial(Handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    server.root, server.requests = root, requests
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def remote(tmp_path, tiktok_dir):
    """Serve copies of the shared files as data/val_image/ and data/val_mask/; yields the server."""
    root = tmp_path / "remote"
    for folder, remote_folder in (("images", "val_image"), ("masks", "val_mask")):
        (root / "data" / remote_folder).mkdir(parents=True)
        for path in (tiktok_dir / folder).glob("*.png"):
            shutil.copy(path, root / "data" / remote_folder / path.name)
    with serving(root) as server:
        yield server


def leftovers(folder):
    return sorted(p.name for p in folder.rglob("*") if p.is_file() and p.name.startswith("."))


def shipped(name):
    """The text of a checksum file shipped beside the set modules (npcae/data/sets/NAME)."""
    return resources.files("npcae.data.sets").joinpath(name).read_text(encoding="ascii")


def test_the_shipped_checksums_are_the_shared_SHA256SUMS_and_read_as_sha256sum_does(tiktok_dir):
    assert shipped("tiktok_136.sha256") == (tiktok_dir / "SHA256SUMS").read_text()
    assert len(SHA256) == 20 and SHA256["masks/136_00420.png"].startswith("7d1fabd7")
    assert parse_checksums("ab12  images/1.jpg\n\ncd34  masks/1.png\n") == {"images/1.jpg": "ab12",
                                                                          "masks/1.png": "cd34"}
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


# -- human-seg-290: 580 files from VikramShenoy97/Human-Segmentation-Dataset ------------------
# The server holds a subset (the full 580 over HTTP take 1.5-2.5 s here, most of it fsync and the
# server sharing the test's process); every file's checksum and place in the commit's layout are
# checked without the network.

SERVED = ("1", "2", "3", "4", "5", "6", "7", "14", "289", "300")


@pytest.fixture
def human_remote(tmp_path, human_seg_dir, monkeypatch):
    """Serve copies of the SERVED photos and masks as Training_Images/N.jpg and Ground_Truth/N.png;
    human_seg_290.SHA256 lists only those 20 files while the test runs."""
    root = tmp_path / "remote"
    served = {}
    for relative, digest in human_seg_290.SHA256.items():
        if Path(relative).stem in SERVED:
            served[relative] = digest
            (root / human_seg_290.remote_path(relative)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(human_seg_dir / relative, root / human_seg_290.remote_path(relative))
    monkeypatch.setattr(human_seg_290, "SHA256", served)
    with serving(root) as server:
        yield server


def test_the_embedded_human_seg_checksums_are_the_shared_SHA256SUMS_in_the_commits_layout(human_seg_dir):
    assert shipped("human_seg_290.sha256") == (human_seg_dir / "SHA256SUMS").read_text()
    assert len(human_seg_290.SHA256) == 580 and len(human_seg_290.NAMES) == 290
    for relative, digest in human_seg_290.SHA256.items():
        assert hashlib.sha256((human_seg_dir / relative).read_bytes()).hexdigest() == digest, relative
    remote = {human_seg_290.remote_path(relative) for relative in human_seg_290.SHA256}
    assert remote == ({f"Training_Images/{n}.jpg" for n in human_seg_290.NAMES}
                      | {f"Ground_Truth/{n}.png" for n in human_seg_290.NAMES})


def test_fetch_data_human_seg_290_downloads_verifies_then_uses_the_cache(human_remote, tmp_path,
                                                                         human_seg_dir, monkeypatch):
    from npcae.cli import main
    monkeypatch.setenv("NPCAE_HUMAN_SEG_URL", human_remote.url)
    dest = tmp_path / "data" / "human-seg-290"
    assert main(["fetch-data", "human-seg-290", "--dest", str(dest)]) == 0
    assert sorted(human_remote.requests) == sorted("/" + human_seg_290.remote_path(r) for r in human_seg_290.SHA256)
    assert {"/Training_Images/300.jpg", "/Ground_Truth/1.png"} <= set(human_remote.requests)
    for relative in human_seg_290.SHA256:
        assert (dest / relative).read_bytes() == (human_seg_dir / relative).read_bytes()
    assert leftovers(dest) == []
    main(["fetch-data", "human-seg-290", "--dest", str(dest)])
    assert len(human_remote.requests) == 20  # every file verified in the cache: no new request


def test_human_seg_fetch_replaces_damaged_and_missing_files_and_refuses_a_bad_one(human_remote, tmp_path):
    dest = human_seg_290.fetch_human_seg290(tmp_path / "cache", base_url=human_remote.url)
    (dest / "masks" / "7.png").write_bytes(b"damaged")
    (dest / "images" / "300.jpg").unlink()
    human_seg_290.fetch_human_seg290(dest, base_url=human_remote.url)
    assert sorted(human_remote.requests[20:]) == ["/Ground_Truth/7.png", "/Training_Images/300.jpg"]
    assert hashlib.sha256((dest / "masks" / "7.png").read_bytes()).hexdigest() == human_seg_290.SHA256["masks/7.png"]

    served = human_remote.root / "Ground_Truth" / "300.png"
    served.write_bytes(served.read_bytes()[:-10])           # a truncated file on the server
    (dest / "masks" / "300.png").unlink()
    with pytest.raises(DataError) as info:
        human_seg_290.fetch_human_seg290(dest, base_url=human_remote.url)
    assert "checksum mismatch" in str(info.value) and "masks/300.png" in str(info.value)
    assert not (dest / "masks" / "300.png").exists() and leftovers(dest) == []


def test_downloads_run_together_but_the_first_failure_in_path_order_is_the_one_named(human_remote, tmp_path):
    for bad in ("Training_Images/5.jpg", "Ground_Truth/2.png"):     # 2.png finishes no later than 5.jpg
        (human_remote.root / bad).write_bytes(b"not the file")
    dest = tmp_path / "cache"
    with pytest.raises(DataError, match=r"checksum mismatch for .*images/5\.jpg"):
        human_seg_290.fetch_human_seg290(dest, base_url=human_remote.url)
    saved = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*.*"))
    assert saved == ["images/1.jpg", "images/14.jpg", "images/2.jpg", "images/289.jpg", "images/3.jpg",
                     "images/300.jpg", "images/4.jpg"]       # the files before it in path order


def test_human_seg_url_and_cache_come_from_the_environment(human_remote, tmp_path, monkeypatch):
    monkeypatch.setattr(human_seg_290, "SHA256", {"masks/14.png": human_seg_290.SHA256["masks/14.png"]})
    monkeypatch.setenv("NPCAE_HUMAN_SEG_URL", human_remote.url + "/")
    monkeypatch.setenv("NPCAE_CACHE", str(tmp_path / "cache-root"))
    assert human_seg_290.fetch_human_seg290() == tmp_path / "cache-root" / "human-seg-290"
    assert human_remote.requests == ["/Ground_Truth/14.png"]
    assert human_seg_290.BASE_URL.endswith("/fe4efc56003005a58b7d2449aa563a20e3861e24")


def test_the_embedded_cityscapes_checksums_are_the_shared_SHA256SUMS():
    folder = shared_data("cityscapes-pix2pix", inside="val")
    assert shipped("cityscapes_pix2pix.sha256") == (folder / "SHA256SUMS").read_text()
    assert len(cityscapes_pix2pix.SHA256) == 3475
    for relative in ("train/1.jpg", "train/2975.jpg", "val/500.jpg"):
        digest = hashlib.sha256((folder / relative).read_bytes()).hexdigest()
        assert cityscapes_pix2pix.SHA256[relative] == digest
    assert cityscapes_pix2pix.BASE_URL.endswith("/69cda8bea4c469bb77bbb4d4920b28a2577315c6/cityscapes")


def test_fetch_data_cityscapes_downloads_verifies_and_states_the_terms(tmp_path, monkeypatch, capsys):
    """Three composites served from a local copy laid out like the pinned commit; the embedded
    checksums list only those while the test runs."""
    from npcae.cli import main
    folder = shared_data("cityscapes-pix2pix", inside="val")
    served = {r: cityscapes_pix2pix.SHA256[r] for r in ("train/1.jpg", "train/2.jpg", "val/1.jpg")}
    root = tmp_path / "remote"
    for relative in served:
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(folder / relative, root / relative)
    monkeypatch.setattr(cityscapes_pix2pix, "SHA256", served)
    with serving(root) as server:
        monkeypatch.setenv("NPCAE_CITYSCAPES_URL", server.url)
        dest = tmp_path / "data"
        assert main(["fetch-data", "cityscapes-pix2pix", "--dest", str(dest)]) == 0
        assert "Cityscapes terms of use apply" in capsys.readouterr().err
        assert sorted(server.requests) == sorted(f"/{r}" for r in served)
        for relative in served:
            assert (dest / relative).read_bytes() == (folder / relative).read_bytes()
        (dest / "val" / "1.jpg").write_bytes(b"damaged")
        (root / "val" / "1.jpg").write_bytes(b"not the file either")
        assert main(["fetch-data", "cityscapes-pix2pix", "--dest", str(dest)]) == 2
        err = capsys.readouterr().err.strip().splitlines()[-1]
        assert "failed its checksum" in err and "val/1.jpg" in err
        assert leftovers(dest) == []
