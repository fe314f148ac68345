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
from connectors.fingerprint import (CATALOGUE_LIMITS, Limits, distance, fingerprint_file, image_fingerprint,
                                    video_fingerprint)
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


def _vint(n: int) -> bytes:
    length = next(k for k in range(1, 9) if n < (1 << (7 * k)) - 1)
    return ((1 << (7 * length)) | n).to_bytes(length, "big")


def _el(ident: bytes, payload: bytes) -> bytes:
    return ident + _vint(len(payload)) + payload


def _uint(ident: bytes, v: int) -> bytes:
    return _el(ident, v.to_bytes(max(1, (v.bit_length() + 7) // 8), "big"))


def million_frame_mkv(frames: int = 1_000_000, fps: int = 25) -> bytes:
    """A real Matroska file of ``frames`` uncompressed 1x1 grey frames at ``fps`` (10^6 frames:
    7 MB, 11 hours of video), written block by block as FFmpeg reads it."""
    header = _el(b"\x1a\x45\xdf\xa3", _uint(b"\x42\x86", 1) + _uint(b"\x42\xf7", 1) + _uint(b"\x42\xf2", 4)
                 + _uint(b"\x42\xf3", 8) + _el(b"\x42\x82", b"matroska") + _uint(b"\x42\x87", 4)
                 + _uint(b"\x42\x85", 2))
    info = _el(b"\x15\x49\xa9\x66", _uint(b"\x2a\xd7\xb1", 1_000_000))  # timestamps in ms
    video = _el(b"\xe0", _uint(b"\xb0", 1) + _uint(b"\xba", 1) + _el(b"\x2e\xb5\x24", b"Y800"))
    track = _el(b"\xae", _uint(b"\xd7", 1) + _uint(b"\x73\xc5", 1) + _uint(b"\x83", 1)
                + _el(b"\x86", b"V_UNCOMPRESSED") + _uint(b"\x23\xe3\x83", 1_000_000_000 // fps) + video)
    out = [header, b"\x18\x53\x80\x67\x01\xff\xff\xff\xff\xff\xff\xff", info, _el(b"\x16\x54\xae\x6b", track)]
    per_cluster = 30 * fps  # block timestamps are 16-bit offsets from their cluster's
    for start in range(0, frames, per_cluster):
        n = min(per_cluster, frames - start)
        blocks = np.zeros((n, 7), dtype=np.uint8)  # SimpleBlock: id, size 5, track 1, offset, keyframe, 1 byte
        blocks[:, 0], blocks[:, 1], blocks[:, 2], blocks[:, 5] = 0xA3, 0x85, 0x81, 0x80
        offset = (np.arange(n) * 1000 // fps).astype(">i2")
        blocks[:, 3:5] = offset.view(np.uint8).reshape(n, 2)
        blocks[:, 6] = (np.arange(start, start + n) * 37) % 256
        out.append(_el(b"\x1f\x43\xb6\x75", _uint(b"\xe7", start * 1000 // fps) + blocks.tobytes()))
    return b"".join(out)


@pytest.fixture(scope="session")
def million_frames(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("media") / "million-frames.mkv"
    if not path.exists():
        path.write_bytes(million_frame_mkv())
    return path.read_bytes()


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
            got = image_fingerprint(f.read_bytes(), algorithm="pdq").hashes[0]
            assert distance(got, want) <= 24, path
            checked += 1
    assert checked >= 8


def whole(fp):
    return [h for h, r in zip(fp.hashes, fp.regions) if r == "full"]


def test_a_video_is_sampled_about_once_a_second_and_matches_its_greyscale_copy():
    need_corpus()
    limits = Limits(regions=("full",))
    orig = video_fingerprint(MEDIA / "tmk/sample-videos/chair-orig-22-sd-bar.mp4", algorithm="pdq", limits=limits)
    grey = video_fingerprint(MEDIA / "tmk/sample-videos/chair-22-sd-grey-bar.mp4", algorithm="pdq", limits=limits)
    other = video_fingerprint(MEDIA / "tmk/sample-videos/pattern-sd-grey-bar.mp4", algorithm="pdq", limits=limits)
    assert 18 <= len(orig.hashes) <= 24 and orig.frames_decoded == 673
    assert all(b - a >= 0.99 for a, b in zip(orig.frame_times, orig.frame_times[1:]))
    assert max(min(distance(h, k) for k in orig.hashes) for h in grey.hashes) <= 31
    assert min(min(distance(h, k) for k in orig.hashes) for h in other.hashes) > 60


def test_each_sampled_frame_is_hashed_whole_without_its_bands_and_mirrored():
    """A post's frame gets the hash of the frame, of the frame without a caption band (when it has
    one) and of both mirrored; a catalogue copy's frame gets the frame and its crops instead."""
    from PIL import Image, ImageDraw

    need_corpus()
    src = Image.open(MEDIA / "pdq/data/reg-test-input/dih/bridge-1-original.jpg").convert("RGB").resize((640, 402))
    band = Image.new("RGB", (640, 402 + 60), (255, 255, 255))
    band.paste(src, (0, 60))
    ImageDraw.Draw(band).text((20, 15), "MUST WATCH: what they hid", fill=(0, 0, 0))
    buf = io.BytesIO()
    band.save(buf, "JPEG", quality=85)
    post = image_fingerprint(buf.getvalue())
    assert post.regions == ["full", "band", "mirror", "band-mirror"] and set(post.frame_times) == {0.0}
    known = fingerprint_file(MEDIA / "pdq/data/reg-test-input/dih/bridge-1-original.jpg", limits=CATALOGUE_LIMITS)
    assert {"full", "c5", "c10", "tl10", "br10"} <= set(known.regions)
    by = dict(zip(post.regions, post.hashes))
    # the catalogue copy is trimmed of "bands" the same way (here the photo's plain lower edge), so
    # the band-trimmed post frame meets one of its hashes while the frame as posted meets none
    assert min(distance(by["band"], k) for k in known.hashes) <= 6 < min(distance(by["full"], k) for k in known.hashes)
    cropped = src.crop((32, 20, 608, 382))  # 5% off every side
    buf = io.BytesIO()
    cropped.save(buf, "JPEG", quality=85)
    crop = dict(zip(known.regions, known.hashes))
    assert distance(whole(image_fingerprint(buf.getvalue()))[0], crop["c5"]) <= 6


@pytest.mark.parametrize("photo", ["q1050", "q2821"])
def test_a_caption_band_in_big_letters_comes_off_whole_and_the_photo_keeps_its_own_edges(photo):
    """A meme-style caption (a white band a seventh of the height, bold letters half as tall as it,
    then JPEG) comes off whole: its rows of thick letters do not end the band early, and the
    photo's own edges (a pale sky and a grey strip in q1050, a thin frame in q2821) are not taken
    off with it. The post frame without its band then meets the catalogue's hash of the photo."""
    from PIL import Image, ImageDraw, ImageFont

    need_corpus()
    path = MEDIA / f"pdq/data/reg-test-input/labelme-subset/{photo}.jpg"
    src = Image.open(path).convert("RGB")
    w, h = src.size
    band = max(24, h // 7)
    post = Image.new("RGB", (w, h + band), (255, 255, 255))
    post.paste(src, (0, band))
    ImageDraw.Draw(post).text((w // 20, band // 4), "MUST WATCH: they hid this!", fill=(0, 0, 0),
                              font=ImageFont.load_default(band // 2), stroke_width=1, stroke_fill=(0, 0, 0))
    buf = io.BytesIO()
    post.save(buf, "JPEG", quality=85)
    fp = image_fingerprint(buf.getvalue())
    by = dict(zip(fp.regions, fp.hashes))
    known = fingerprint_file(path, limits=CATALOGUE_LIMITS)
    assert min(distance(by["band"], k) for k in known.hashes) <= 6 < min(distance(by["full"], k) for k in known.hashes)


@pytest.mark.parametrize("photo", ["labelme-subset/q0291.jpg", "pen-and-coaster.png"])
def test_a_crop_between_the_grid_points_meets_a_catalogue_crop(photo):
    """7% off the top and 3% off the right is no crop the catalogue hashes; the nearest one (5% off
    the top and the right) is within a few bits of it, while the whole picture and the 10% crops are not."""
    from PIL import Image

    need_corpus()
    path = MEDIA / "pdq/data/reg-test-input" / photo
    src = Image.open(path).convert("RGB")
    w, h = src.size
    buf = io.BytesIO()
    src.crop((0, round(h * .07), w - round(w * .03), h)).save(buf, "JPEG", quality=85)
    post = whole(image_fingerprint(buf.getvalue()))[0]
    known = fingerprint_file(path, limits=CATALOGUE_LIMITS)
    by = {r: min(distance(post, k) for k, kr in zip(known.hashes, known.regions) if kr == r) for r in set(known.regions)}
    assert by["tr5"] <= 6 < min(by["full"], by["tr10"], by["c10"]), by


def test_letterbox_bars_are_trimmed_before_hashing():
    from PIL import Image

    need_corpus()
    img = Image.open(MEDIA / "pdq/data/reg-test-input/dih/bridge-1-original.jpg").convert("RGB")
    box = Image.new("RGB", (img.width, img.height * 2))
    box.paste(img, (0, img.height // 2))
    buf = io.BytesIO()
    box.save(buf, "PNG")
    a = image_fingerprint((MEDIA / "pdq/data/reg-test-input/dih/bridge-1-original.jpg").read_bytes(), algorithm="pdq")
    assert distance(a.hashes[0], image_fingerprint(buf.getvalue(), algorithm="pdq").hashes[0]) <= 8


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


def test_a_video_of_a_million_tiny_frames_stops_at_the_caps(million_frames):
    import av

    with av.open(io.BytesIO(million_frames), format="matroska") as c:  # it is what it says
        assert c.streams.video[0].codec_context.width == 1 and float(c.streams.video[0].average_rate) == 25
    assert 6_000_000 < len(million_frames) < 7_500_000
    fp = video_fingerprint(million_frames, what="tiny.mkv", limits=Limits(max_video_seconds=300))
    assert fp.truncated and fp.frames_decoded == 7502 and fp.duration_s == 300.0
    assert fp.note == ("tiny.mkv: stopped at the cap of 300 s of video (7,501 frames decoded); "
                       "only that start is fingerprinted")
    fp = video_fingerprint(million_frames, what="tiny.mkv", limits=Limits(max_video_seconds=1e9, max_decoded_frames=2000))
    assert fp.truncated and fp.frames_decoded == 2001 and "cap of 2,000 decoded frames" in fp.note


def test_a_stream_declaring_a_flood_of_frames_is_refused_up_front():
    fast = tiny_video(200, rate=1000)  # 10^6 frames would play in 1000 s at this rate
    with pytest.raises(TooLargeError, match="1,000 frames per second"):
        video_fingerprint(fast, what="fast.mp4")


# --- the step, over HTTP ----------------------------------------------------------------------------

@pytest.fixture
def served(million_frames):
    good = jpeg(1)
    million = million_frames
    clip = DEMO_CLIP.read_bytes()
    with LoopbackServer() as srv:
        srv.route("/ok.jpg", Reply(200, good, {"Content-Type": "image/jpeg"}))
        srv.route("/bomb.png", Reply(200, png_bomb(), {"Content-Type": "image/png"}))
        srv.route("/page.jpg", Reply(200, b"<html>login</html>", {"Content-Type": "text/html"}))
        srv.route("/huge.mp4", Reply(200, b"x" * 1000, {"Content-Type": "video/mp4", "Content-Length": str(2 * GB)},
                                     truncate_to=1000))
        srv.route("/cut.mp4", Reply(200, clip[: len(clip) // 3], {"Content-Type": "video/mp4"}))
        srv.route("/clip.mp4", Reply(200, clip, {"Content-Type": "video/mp4"}))
        srv.route("/tiny.mkv", Reply(200, million, {"Content-Type": "video/x-matroska"}))
        srv.route("/v/master.m3u8", Reply(200, b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=900000\nhi/p.m3u8\n"
                                          b"#EXT-X-STREAM-INF:BANDWIDTH=300000\nlo/p.m3u8\n",
                                          {"Content-Type": "application/vnd.apple.mpegurl"}))
        yield srv


def run_step(srv, media, **kw):
    settings = MediaSettings(**kw)
    base = HttpSettings(allow_private=True, retries=0)
    items = [(f"p{i}", "src", [{"url": srv.url(u), "kind": k}]) for i, (u, k) in enumerate(media)]
    return fingerprint_media(items, lambda cap, seconds: HttpClient(settings_for(base, cap, seconds)), settings)


def test_every_hostile_medium_is_one_line_and_the_good_ones_are_fingerprinted(served):
    res = run_step(served, [("/bomb.png", "image"), ("/page.jpg", "thumbnail"), ("/huge.mp4", "video"),
                            ("/cut.mp4", "video"), ("/ok.jpg", "image"), ("/clip.mp4", "video"), ("/tiny.mkv", "video")])
    stats = res.sources["src"]
    assert stats.fingerprinted == 3 and stats.failed == 4
    problems = "\n".join(stats.problems)
    assert len(stats.problems) == 5 and all("\n" not in p for p in stats.problems)
    # a million tiny frames: fingerprinted from its start within the caps, and said in one line
    assert [p for p in stats.problems if "tiny.mkv: stopped at the cap of 300 s of video" in p]
    assert "bomb.png" in problems and "over the cap" in problems
    assert "page.jpg" in problems and "wrong content type 'text/html'" in problems
    assert [p for p in stats.problems if "huge.mp4" in p and "2147483648 bytes is over the cap" in p]
    assert "cut.mp4" in problems
    ok = {r["media_url"].rsplit("/", 1)[1]: r for r in res.rows if r["status"] == "ok"}
    assert set(ok) == {"ok.jpg", "clip.mp4", "tiny.mkv"} and len(set(ok["clip.mp4"]["frame_times"])) >= 6
    assert ok["tiny.mkv"]["truncated"] and ok["tiny.mkv"]["frames_decoded"] == 7502


def test_private_addresses_are_refused_unless_allowed(served):
    settings = MediaSettings()
    items = [("p", "src", [{"url": served.url("/ok.jpg"), "kind": "image"}])]
    res = fingerprint_media(items, lambda cap, seconds: HttpClient(settings_for(HttpSettings(retries=0), cap, seconds)), settings)
    assert res.sources["src"].failed == 1 and "private" in res.sources["src"].problems[0].lower() or \
        "loopback" in res.sources["src"].problems[0].lower()


def test_the_time_budget_and_item_cap_skip_and_count_the_rest(served):
    res = run_step(served, [("/ok.jpg", "image")] * 1 + [("/clip.mp4", "video")], max_items=1)
    assert res.sources["src"].fingerprinted == 1 and res.sources["src"].skipped == 1
    ticks = iter(range(0, 1000, 10))
    settings = MediaSettings(time_budget_s=15)
    items = [(f"p{i}", "src", [{"url": served.url(f"/ok.jpg?{i}"), "kind": "image"}]) for i in range(5)]
    base = HttpSettings(allow_private=True, retries=0)
    res = fingerprint_media(items, lambda cap, seconds: HttpClient(settings_for(base, cap, seconds)), settings, clock=lambda: next(ticks))
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


def test_fetches_near_the_end_of_the_budget_get_only_the_time_that_is_left(served):
    """The last fetches cannot run long past the budget: their clients' time limit shrinks to what
    is left (in 5 s steps), so the step ends within about one short fetch of its budget."""
    base = HttpSettings(allow_private=True, retries=0)
    made: list[float] = []

    def factory(cap: int, seconds: float):
        made.append(seconds)
        return HttpClient(settings_for(base, cap, seconds))

    ticks = iter(range(0, 10_000, 7))
    items = [(f"p{i}", "src", [{"url": served.url(f"/ok.jpg?{i}"), "kind": "image"}]) for i in range(12)]
    res = fingerprint_media(items, factory, MediaSettings(time_budget_s=120), clock=lambda: next(ticks))
    assert made[0] == 120 and len(made) > 2 and made == sorted(made, reverse=True) and made[-1] <= 20
    assert res.sources["src"].skipped > 0  # and what the budget did not reach is counted
