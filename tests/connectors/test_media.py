"""The media step and fingerprints: real corpus media hash as the reference implementations do,
and every hostile medium ends in one line for its source while the others go on."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

from connectors.errors import ParseError, TooLargeError
from connectors.fingerprint import (Limits, distance, fingerprint_file, image_fingerprint, video_fingerprint)
from connectors.http import HttpClient, HttpSettings
from connectors.media import MediaSettings, fingerprint_media, parse_m3u8, settings_for
from tests.loopback import LoopbackServer, Reply

MEDIA = Path(__file__).resolve().parents[3] / "shared" / "data" / "media"
DEMO_CLIP = Path(__file__).resolve().parents[2] / "flows" / "demo" / "media" / "demo-clip.mp4"
GB = 1024 ** 3


def need_corpus():
    if not (MEDIA / "pdq").is_dir():
        pytest.skip(f"shared media corpus not found at {MEDIA}")


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A small PNG that declares 10^10 pixels (its few IDAT bytes would inflate to ~10 GB)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    c = zlib.compressobj(9)
    row = b"\x00" + bytes(width // 8)
    body = c.compress(row * 64) + c.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


def jpeg(seed: int = 1, size=(320, 180)) -> bytes:
    from PIL import Image

    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (9, 16, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(small).resize(size, Image.BICUBIC).save(buf, "JPEG", quality=85)
    return buf.getvalue()


def tiny_video(frames: int, rate: int, size: int = 16) -> bytes:
    import av

    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        s = out.add_stream("libx264", rate=rate)
        s.width = s.height = size
        s.pix_fmt = "yuv420p"
        s.options = {"preset": "ultrafast"}
        rng = np.random.default_rng(0)
        for i in range(frames):
            arr = np.full((size, size, 3), (i * 7) % 256, dtype=np.uint8)
            arr[: size // 2] = rng.integers(0, 256, 3)
            for p in s.encode(av.VideoFrame.from_ndarray(arr, format="rgb24")):
                out.mux(p)
        for p in s.encode():
            out.mux(p)
    return buf.getvalue()


# --- fingerprints ----------------------------------------------------------------------------------

def test_pdq_of_the_corpus_photos_stays_close_to_metas_published_hashes():
    """Meta's C++ hasher reads the full-size photo; claimwatch hashes a copy at most 256 pixels
    wide (fast), which moves a hash by a few bits: within 24 of 256 here, random pairs ~128."""
    need_corpus()
    expected = {}
    for line in (MEDIA / "pdq" / "expected-pdq-hashes.csv").read_text().splitlines()[1:]:
        path, hexhash, _, impl, *_ = line.split(",")
        if impl.startswith("cpp pdq-photo-hasher --int64"):
            expected[path] = hexhash
    checked = 0
    for path, want in expected.items():
        f = MEDIA / path
        if f.is_file() and "dih/" in path:
            got = image_fingerprint(f.read_bytes()).hashes[0]
            assert distance(got, want) <= 24, path
            checked += 1
    assert checked >= 8


def test_a_video_is_sampled_about_once_a_second_and_matches_its_greyscale_copy():
    need_corpus()
    orig = video_fingerprint(MEDIA / "tmk/sample-videos/chair-orig-22-sd-bar.mp4")
    grey = video_fingerprint(MEDIA / "tmk/sample-videos/chair-22-sd-grey-bar.mp4")
    other = video_fingerprint(MEDIA / "tmk/sample-videos/pattern-sd-grey-bar.mp4")
    assert 18 <= len(orig.hashes) <= 24 and orig.frames_decoded == 673
    assert all(b - a >= 0.99 for a, b in zip(orig.frame_times, orig.frame_times[1:]))
    assert max(min(distance(h, k) for k in orig.hashes) for h in grey.hashes) <= 31
    assert min(min(distance(h, k) for k in orig.hashes) for h in other.hashes) > 60


def test_letterbox_bars_are_trimmed_before_hashing():
    from PIL import Image

    need_corpus()
    img = Image.open(MEDIA / "pdq/data/reg-test-input/dih/bridge-1-original.jpg").convert("RGB")
    box = Image.new("RGB", (img.width, img.height * 2))
    box.paste(img, (0, img.height // 2))
    buf = io.BytesIO()
    box.save(buf, "PNG")
    a = image_fingerprint((MEDIA / "pdq/data/reg-test-input/dih/bridge-1-original.jpg").read_bytes())
    assert distance(a.hashes[0], image_fingerprint(buf.getvalue()).hashes[0]) <= 8


# --- hostile media, each one line --------------------------------------------------------------------

def test_a_decompression_bomb_png_is_refused_from_its_header():
    data = png_bomb()
    assert len(data) < 200_000
    with pytest.raises(TooLargeError, match="bomb.png: declares more than .* pixels, over the cap"):
        image_fingerprint(data, what="bomb.png")


def test_a_truncated_mp4_is_one_parse_error():
    clip = DEMO_CLIP.read_bytes()
    with pytest.raises(ParseError, match="cut.mp4: .*(truncated or corrupt|cannot be opened)"):
        video_fingerprint(clip[: len(clip) // 3], what="cut.mp4")


def test_a_flood_of_tiny_frames_stops_at_the_caps():
    many = tiny_video(3000, rate=25)
    fp = video_fingerprint(many, what="tiny.mp4", limits=Limits(max_decoded_frames=1000))
    assert fp.truncated and fp.frames_decoded == 1001
    fast = tiny_video(200, rate=1000)  # 10^6 frames would play in 1000 s at this rate
    with pytest.raises(TooLargeError, match="1,000 frames per second"):
        video_fingerprint(fast, what="fast.mp4")


# --- the step, over HTTP ----------------------------------------------------------------------------

@pytest.fixture
def served():
    good = jpeg(1)
    clip = DEMO_CLIP.read_bytes()
    with LoopbackServer() as srv:
        srv.route("/ok.jpg", Reply(200, good, {"Content-Type": "image/jpeg"}))
        srv.route("/bomb.png", Reply(200, png_bomb(), {"Content-Type": "image/png"}))
        srv.route("/page.jpg", Reply(200, b"<html>login</html>", {"Content-Type": "text/html"}))
        srv.route("/huge.mp4", Reply(200, b"x" * 1000, {"Content-Type": "video/mp4", "Content-Length": str(2 * GB)},
                                     truncate_to=1000))
        srv.route("/cut.mp4", Reply(200, clip[: len(clip) // 3], {"Content-Type": "video/mp4"}))
        srv.route("/clip.mp4", Reply(200, clip, {"Content-Type": "video/mp4"}))
        srv.route("/v/master.m3u8", Reply(200, b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=900000\nhi/p.m3u8\n"
                                          b"#EXT-X-STREAM-INF:BANDWIDTH=300000\nlo/p.m3u8\n",
                                          {"Content-Type": "application/vnd.apple.mpegurl"}))
        yield srv


def run_step(srv, media, **kw):
    settings = MediaSettings(**kw)
    base = HttpSettings(allow_private=True, retries=0)
    items = [(f"p{i}", "src", [{"url": srv.url(u), "kind": k}]) for i, (u, k) in enumerate(media)]
    return fingerprint_media(items, lambda cap: HttpClient(settings_for(base, cap)), settings)


def test_every_hostile_medium_is_one_line_and_the_good_ones_are_fingerprinted(served):
    res = run_step(served, [("/bomb.png", "image"), ("/page.jpg", "thumbnail"), ("/huge.mp4", "video"),
                            ("/cut.mp4", "video"), ("/ok.jpg", "image"), ("/clip.mp4", "video")])
    stats = res.sources["src"]
    assert stats.fingerprinted == 2 and stats.failed == 4
    problems = "\n".join(stats.problems)
    assert len(stats.problems) == 4 and all("\n" not in p for p in stats.problems)
    assert "bomb.png" in problems and "over the cap" in problems
    assert "page.jpg" in problems and "wrong content type 'text/html'" in problems
    assert [p for p in stats.problems if "huge.mp4" in p and "2147483648 bytes is over the cap" in p]
    assert "cut.mp4" in problems
    ok = {r["media_url"].rsplit("/", 1)[1]: r for r in res.rows if r["status"] == "ok"}
    assert set(ok) == {"ok.jpg", "clip.mp4"} and len(ok["clip.mp4"]["hashes"]) >= 6


def test_private_addresses_are_refused_unless_allowed(served):
    settings = MediaSettings()
    items = [("p", "src", [{"url": served.url("/ok.jpg"), "kind": "image"}])]
    res = fingerprint_media(items, lambda cap: HttpClient(settings_for(HttpSettings(retries=0), cap)), settings)
    assert res.sources["src"].failed == 1 and "private" in res.sources["src"].problems[0].lower() or \
        "loopback" in res.sources["src"].problems[0].lower()


def test_the_time_budget_and_item_cap_skip_and_count_the_rest(served):
    res = run_step(served, [("/ok.jpg", "image")] * 1 + [("/clip.mp4", "video")], max_items=1)
    assert res.sources["src"].fingerprinted == 1 and res.sources["src"].skipped == 1
    ticks = iter(range(0, 1000, 10))
    settings = MediaSettings(time_budget_s=15)
    items = [(f"p{i}", "src", [{"url": served.url(f"/ok.jpg?{i}"), "kind": "image"}]) for i in range(5)]
    base = HttpSettings(allow_private=True, retries=0)
    res = fingerprint_media(items, lambda cap: HttpClient(settings_for(base, cap)), settings, clock=lambda: next(ticks))
    assert res.sources["src"].fingerprinted + res.sources["src"].skipped == 5 and res.sources["src"].skipped >= 3


def test_hls_master_playlists_pick_the_smallest_rendition():
    variants, segments, _ = parse_m3u8("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=900000\nhi/p.m3u8\n"
                                       "#EXT-X-STREAM-INF:BANDWIDTH=300000\nlo/p.m3u8\n", "https://v.example/x/m.m3u8")
    assert min(variants)[1] == "https://v.example/x/lo/p.m3u8" and not segments
    _, segments, _ = parse_m3u8("#EXTM3U\n#EXTINF:4.0,\nseg0.ts\n#EXTINF:4.0,\nseg1.ts\n", "https://v.example/x/lo/p.m3u8")
    assert segments == [(4.0, "https://v.example/x/lo/seg0.ts"), (4.0, "https://v.example/x/lo/seg1.ts")]


def test_media_settings_refuse_unknown_keys_and_wrong_types():
    from connectors.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown option 'max_item'"):
        MediaSettings.from_mapping({"max_item": 3})
    with pytest.raises(ConfigError, match="'time_budget_s' = 'fast' has the wrong type"):
        MediaSettings.from_mapping({"time_budget_s": "fast"})
    with pytest.raises(ConfigError, match="unknown kind 'gif'"):
        MediaSettings.from_mapping({"kinds": ["gif"]})
