"""Robustness and speed of the media fingerprints, on the shared media corpus.

    .venv/bin/python bench/bench_media.py [--media ../shared/data/media] [--cache DIR]
        [--algorithms pdq,phash] [--distances 16,24,31,40] [--synthetic 2000] [--skip-speed] [--only-speed]

References (the catalogue's "known copies"): the videos ``chair-orig-22-sd-bar``,
``pattern-hd-no-bar``, ``doorknob-hd-no-bar`` and the demo clip (``flows/demo/media``), and the
stills ``bridge-1-original.jpg``, ``pen-and-coaster.png`` and the LabelMe photos with PDQ
quality >= 50. Known videos are fingerprinted as ``claimwatch claims add-media`` does (every
frame up to 30 per second, near-identical neighbours dropped); queries as the media step does
(1 frame per second).

Transforms, written with PyAV/Pillow into the cache folder (not the repository), of every
reference: ``reencode`` (H.264 at 150 kbit/s; stills: JPEG quality 20), ``scale360`` (360 pixels
high), ``crop5`` (5% off every side), ``crop10`` (10% off the top and the left), ``letterbox``
(into a 16:9 or 4:3 canvas with black bars), ``caption`` (a white band with a headline added
above), ``watermark`` (a half-transparent text logo in a corner), ``mirror``, ``trim`` (videos:
the first 2.5 s cut), ``brightness`` (x1.3), ``screenshot`` (a frame at 40% scaled to 75% under
a phone status bar and above player controls, PNG) and ``thumbnail`` (videos: a frame at 30%, 320
pixels wide, JPEG). Upstream's own edited copies of the chair and pattern clips (grey, sepia,
small and large logo, shorter cuts) are scored as real-world rows.

Distractors: (1) every decoded frame of the corpus clips, each compared only with references of
other scenes (chair, pattern, doorknob, padded test bars; four real scenes, so frames are far
from independent); (2) the corpus stills that are not references; (3) ``--synthetic`` seeded
images (1/f noise, random shapes and gradients; independent by construction but not
photographs). A false match is a distractor frame within the distance of any reference frame of
another scene. Video-level false matches (each corpus clip as a post against the other scenes'
references, with the match rule) are counted as well.

Speed (one core: one decoder thread; run it under ``taskset -c 0``): thumbnails fingerprinted per
second against Pillow decode-and-resize alone; 360p video fingerprinting as a multiple of real time
against PyAV decoding alone; each by the clock and by this process's CPU time (on a shared machine
the clock also counts other processes' turns on the core); the band index over 100,000 catalogue
frame hashes against a numpy popcount over all of them.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from connectors.fingerprint import (CATALOGUE_LIMITS, DEFAULT_ALGORITHM, QUERY_REGIONS, Limits, fingerprint_file,  # noqa: E402
                                    frame_hashes, image_fingerprint, prepare_array, prepare_image, video_fingerprint)
from rules.media import ALGORITHM_BITS, HashIndex, KnownCopy, KnownMedia, MediaRule, hex_to_bytes, _popcount_rows  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
KNOWN_LIMITS = CATALOGUE_LIMITS  # as `claimwatch claims add-media` fingerprints a copy
QUERY_LIMITS = Limits()  # as the media step fingerprints a post's medium
VIDEO_REFS = {"chair": "tmk/sample-videos/chair-orig-22-sd-bar.mp4",
              "pattern": "tmk/sample-videos/pattern-hd-no-bar.mp4",
              "doorknob": "tmk/sample-videos/doorknob-hd-no-bar.mp4"}
UPSTREAM = {"chair": ["chair-22-sd-grey-bar", "chair-22-sd-sepia-bar", "chair-22-with-small-logo-bar",
                      "chair-22-with-large-logo-bar", "chair-20-sd-bar", "chair-19-sd-bar"],
            "pattern": ["pattern-longer-no-bar", "pattern-sd-grey-bar", "pattern-sd-with-small-logo-bar",
                        "pattern-sd-with-large-logo-bar"]}
SCENE_OF_CLIP = {"chair": "chair", "pattern": "pattern", "doorknob": "doorknob", "test": "padded"}
TRANSFORMS = ("reencode", "reencode150k", "scale360", "crop5", "crop10", "crop3-7", "letterbox", "caption",
              "watermark", "mirror", "trim", "brightness", "screenshot", "thumbnail")
MUST_PASS = ("reencode", "scale360", "crop5", "crop10", "letterbox", "caption", "trim")
CACHE_VERSION = 3  # bump when frame preparation or regions change (the distractor hash cache)


# ------------------------------------------------------------------------------ transforms


def _font(size: int):
    from PIL import ImageFont

    for name in ("DejaVuSans-Bold.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"):
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default()


def transform_image(img, name: str):
    """A Pillow RGB image transformed (the frame-level part of every transform)."""
    from PIL import Image, ImageDraw, ImageEnhance, ImageOps

    w, h = img.size
    if name == "scale360":
        return img.resize((max(2, round(w * 360 / h)) // 2 * 2, 360), Image.BILINEAR)
    if name == "crop5":
        return img.crop((round(w * .05), round(h * .05), round(w * .95), round(h * .95)))
    if name == "crop10":
        return img.crop((round(w * .10), round(h * .10), w, h))
    if name == "crop3-7":  # off the grid of crops the catalogue hashes: 7% off the top, 3% off the right
        return img.crop((0, round(h * .07), w - round(w * .03), h))
    if name == "letterbox":
        tw, th = (round(h * 16 / 9), h) if w / h < 16 / 9 - 0.01 else (w, round(w * 3 / 4))
        canvas = Image.new("RGB", (tw // 2 * 2, th // 2 * 2))
        canvas.paste(img, ((canvas.width - w) // 2, (canvas.height - h) // 2))
        return canvas
    if name == "caption":
        band = max(24, h // 7)
        canvas = Image.new("RGB", (w, (h + band) // 2 * 2), (255, 255, 255))
        canvas.paste(img, (0, band))
        ImageDraw.Draw(canvas).text((w // 20, band // 4), "MUST WATCH: they hid this!", fill=(0, 0, 0),
                                    font=_font(max(10, band // 2)))
        return canvas
    if name == "watermark":
        layer = Image.new("RGBA", img.size, (0, 0, 0, 0))
        d = ImageDraw.Draw(layer)
        size = max(10, w // 12)
        d.text((w - w // 3, h - h // 8), "@viral_clips", fill=(255, 255, 255, 128), font=_font(size))
        return Image.alpha_composite(img.convert("RGBA"), layer).convert("RGB")
    if name == "mirror":
        return ImageOps.mirror(img)
    if name == "brightness":
        return ImageEnhance.Brightness(img).enhance(1.3)
    if name == "screenshot":
        small = img.resize((max(2, round(w * .75)), max(2, round(h * .75))), Image.BILINEAR)
        bar = max(12, small.height // 16)
        canvas = Image.new("RGB", (small.width, small.height + 3 * bar), (18, 18, 18))
        canvas.paste(small, (0, bar))
        d = ImageDraw.Draw(canvas)
        d.text((bar // 2, bar // 6), "12:41        4G  87%", fill=(230, 230, 230), font=_font(max(8, bar * 2 // 3)))
        y = small.height + bar
        d.rectangle((bar, y + bar, canvas.width - bar, y + bar + max(2, bar // 4)), fill=(90, 90, 90))
        d.rectangle((bar, y + bar, canvas.width // 3, y + bar + max(2, bar // 4)), fill=(220, 30, 30))
        d.text((bar, y + bar // 4), "▶  0:07 / 0:22", fill=(230, 230, 230), font=_font(max(8, bar // 2)))
        return canvas
    if name == "thumbnail":
        tw = 320
        return img.resize((tw, max(2, round(h * tw / w))), Image.BILINEAR)
    return img


def _even(img):
    w, h = img.size
    return img if w % 2 == 0 and h % 2 == 0 else img.crop((0, 0, w // 2 * 2, h // 2 * 2))


def write_video_transform(src: Path, out: Path, name: str) -> Path:
    import av

    with av.open(str(src)) as inp:
        stream = inp.streams.video[0]
        rate = stream.average_rate or 30
        duration = float(inp.duration or 0) / 1e6
        frames = []
        for frame in inp.decode(video=0):
            t = float(frame.time or 0)
            if name == "trim" and t < 2.5:
                continue
            frames.append((t, frame.to_image()))
    if name in ("screenshot", "thumbnail"):
        at = 0.4 if name == "screenshot" else 0.3
        _, img = min(frames, key=lambda f: abs(f[0] - at * duration))
        img = transform_image(img, name)
        out = out.with_suffix(".png" if name == "screenshot" else ".jpg")
        img.save(out, **({"quality": 80} if name == "thumbnail" else {}))
        return out
    with av.open(str(out), "w") as dst:
        first = _even(transform_image(frames[0][1], name))
        vs = dst.add_stream("libx264", rate=rate)
        vs.width, vs.height, vs.pix_fmt = first.width, first.height, "yuv420p"
        vs.options = {"preset": "veryfast"}
        if name in ("reencode", "reencode150k"):
            # reencode: 0.015 bits per pixel and frame (150 kbit/s for 480x720 at 30 fps, 415 kbit/s for
            # 1280x720), about a third of what platforms spend at 360p; reencode150k: 150 kbit/s whatever
            # the size (720p at 150 kbit/s smears a moving picture into blocks within seconds)
            rate_bps = 150_000 if name == "reencode150k" else int(0.015 * first.width * first.height * float(rate))
            vs.bit_rate = rate_bps
            k = f"{rate_bps // 1000}k"
            vs.options = {"preset": "veryfast", "b": k, "maxrate": k, "bufsize": f"{2 * rate_bps // 1000}k"}
        for _, img in frames:
            img = _even(transform_image(img, name)).resize((first.width, first.height))
            for p in vs.encode(av.VideoFrame.from_image(img)):
                dst.mux(p)
        for p in vs.encode():
            dst.mux(p)
    return out


def write_image_transform(src: Path, out: Path, name: str) -> Path | None:
    from PIL import Image

    if name in ("trim", "thumbnail", "reencode150k"):
        return None
    img = Image.open(src).convert("RGB")
    if name == "reencode":
        out = out.with_suffix(".jpg")
        img.save(out, quality=20)
        return out
    img = transform_image(img, name)
    out = out.with_suffix(".png" if name == "screenshot" else ".jpg")
    img.save(out, **({} if name == "screenshot" else {"quality": 85}))
    return out


# ------------------------------------------------------------------------------ corpus


def still_refs(media: Path) -> dict[str, Path]:
    refs = {"bridge": media / "pdq/data/reg-test-input/dih/bridge-1-original.jpg",
            "pen": media / "pdq/data/reg-test-input/pen-and-coaster.png"}
    for p in sorted((media / "pdq/data/reg-test-input/labelme-subset").glob("*.jpg")):
        if image_fingerprint(p.read_bytes()).quality[0] >= 50:
            refs[f"labelme-{p.stem}"] = p
    return refs


def demo_clip() -> Path | None:
    clips = sorted((ROOT / "flows" / "demo" / "media").glob("*.mp4")) if (ROOT / "flows" / "demo" / "media").is_dir() else []
    return clips[0] if clips else None


def synthetic_images(n: int, seed: int = 7):
    """Seeded stand-ins for unrelated pictures: 1/f noise, shapes, gradients (not photographs)."""
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    for i in range(n):
        w, h = int(rng.choice([320, 480, 640])), int(rng.choice([180, 240, 360, 480]))
        kind = i % 3
        if kind == 0:
            spec = np.fft.rfft2(rng.standard_normal((h, w)))
            fy = np.fft.fftfreq(h)[:, None]
            fx = np.fft.rfftfreq(w)[None, :]
            spec /= np.maximum(np.hypot(fx, fy), 1.0 / max(w, h)) ** rng.uniform(0.8, 1.6)
            chans = []
            for _ in range(3):
                field = np.fft.irfft2(spec * np.exp(1j * rng.uniform(0, 6.28, spec.shape)), s=(h, w))
                field = (field - field.min()) / (np.ptp(field) + 1e-9)
                chans.append(field)
            arr = (np.stack(chans, -1) * 255).astype(np.uint8)
            yield Image.fromarray(arr)
        else:
            base = tuple(int(x) for x in rng.integers(0, 256, 3))
            img = Image.new("RGB", (w, h), base)
            d = ImageDraw.Draw(img)
            if kind == 2:
                top, bottom = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
                for y in range(h):
                    c = tuple(int(v) for v in top + (bottom - top) * y / h)
                    d.line((0, y, w, y), fill=c)
            for _ in range(int(rng.integers(4, 25))):
                x0, y0 = int(rng.integers(-w // 4, w)), int(rng.integers(-h // 4, h))
                x1, y1 = x0 + int(rng.integers(8, w // 2)), y0 + int(rng.integers(8, h // 2))
                fill = tuple(int(v) for v in rng.integers(0, 256, 3))
                [d.rectangle, d.ellipse][int(rng.integers(0, 2))]((x0, y0, x1, y1), fill=fill)
            yield img


def all_frame_hashes(path: Path, algorithm: str) -> list[list[tuple[str, int]]]:
    """Every decoded frame of a clip, each as the media step hashes a post's frame (its regions)."""
    import av

    out = []
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        w, h = s.codec_context.width, s.codec_context.height
        scale = min(1.0, 320 / max(w, h))
        for frame in c.decode(video=0):
            rgb = frame.to_ndarray(format="rgb24", width=round(w * scale), height=round(h * scale))
            out.append([(hx, q) for _, hx, q in frame_hashes(prepare_array(rgb), algorithm, QUERY_REGIONS)])
    return out


# ------------------------------------------------------------------------------ main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--media", default=str(ROOT.parent / "shared" / "data" / "media"))
    ap.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "claimwatch-bench-media"))
    ap.add_argument("--algorithms", default="pdq,phash")
    ap.add_argument("--distances", default="")
    ap.add_argument("--synthetic", type=int, default=2000)
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--only-speed", action="store_true", help="only the speed part (needs the cache of a full run)")
    args = ap.parse_args()
    media, cache = Path(args.media), Path(args.cache)
    if args.only_speed:
        speed(media, cache)
        return
    if not (media / "tmk").is_dir():
        sys.exit(f"bench_media: {media} has no tmk/ folder; pass --media with the shared media corpus")
    cache.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()

    videos = {k: media / v for k, v in VIDEO_REFS.items()}
    clip = demo_clip()
    if clip is not None:
        videos["demo"] = clip
    stills = still_refs(media)

    queries: list[tuple[str, str, Path]] = []  # (reference, transform, file)
    for ref, src in videos.items():
        for name in TRANSFORMS:
            out = cache / f"{ref}-{name}.mp4"
            existing = [p for p in (out, out.with_suffix(".png"), out.with_suffix(".jpg")) if p.exists()]
            queries.append((ref, name, existing[0] if existing else write_video_transform(src, out, name)))
    for ref, src in stills.items():
        for name in TRANSFORMS:
            out = cache / f"{ref}-{name}.jpg"
            existing = [p for p in (out, out.with_suffix(".png")) if p.exists()]
            path = existing[0] if existing else write_image_transform(src, out, name)
            if path is not None:
                queries.append((ref, name, path))
    for scene, names in UPSTREAM.items():
        for n in names:
            queries.append((scene, f"upstream:{n}", media / "tmk/sample-videos" / f"{n}.mp4"))
    print(f"references: {len(videos)} videos, {len(stills)} stills; {len(queries)} transformed queries "
          f"(built or cached in {cache}, {time.perf_counter() - t0:.0f}s)", flush=True)

    scene = {r: r for r in [*videos, *stills]}
    for algorithm in args.algorithms.split(","):
        bits = ALGORITHM_BITS[algorithm]
        distances = ([int(x) for x in args.distances.split(",")] if args.distances else
                     ([16, 24, 31, 40, 47] if algorithm == "pdq" else [4, 5, 6, 7, 8, 10]))
        t = time.perf_counter()
        ref_fp = {r: fingerprint_file(p, algorithm=algorithm, limits=KNOWN_LIMITS) for r, p in [*videos.items(), *stills.items()]}
        q_fp = {}
        for ref, name, path in queries:
            q_fp[(ref, name)] = fingerprint_file(path, algorithm=algorithm, limits=QUERY_LIMITS)
        # distractors: frames, each with the hashes of its regions, as the media step hashes a post's
        pool: list[tuple[str, list[tuple[str, int]]]] = []  # (scene, [(hash, quality), ...])
        clip_fps = {}
        for p in sorted((media / "tmk/sample-videos").glob("*.mp4")):
            sc = SCENE_OF_CLIP[p.stem.split("-")[0]]
            cached = cache / f"allframes-v{CACHE_VERSION}-{algorithm}-{p.stem}.txt"
            if cached.exists():
                frames = [[tuple(x.split(":")) for x in ln.split(",")] for ln in cached.read_text().split()]
                frames = [[(h, int(q)) for h, q in f] for f in frames]
            else:
                frames = all_frame_hashes(p, algorithm)
                cached.write_text("\n".join(",".join(f"{h}:{q}" for h, q in f) for f in frames))
            pool += [(sc, f) for f in frames]
            clip_fps[p.stem] = (sc, fingerprint_file(p, algorithm=algorithm, limits=QUERY_LIMITS))
        other_stills = [media / "pdq/data/misc-images/c.png", media / "pdq/data/misc-images/small.jpg",
                        media / "pdq/data/misc-images/wee.jpg"]
        other_stills += [p for p in sorted((media / "pdq/data/reg-test-input/labelme-subset").glob("*.jpg"))
                         if f"labelme-{p.stem}" not in stills]
        for p in other_stills:
            fp = image_fingerprint(p.read_bytes(), algorithm=algorithm)
            pool.append((f"still:{p.name}", list(zip(fp.hashes, fp.quality))))
        for i, img in enumerate(synthetic_images(args.synthetic)):
            pool.append((f"synthetic:{i}", [(h, q) for _, h, q in frame_hashes(prepare_image(img), algorithm, QUERY_REGIONS)]))
        n_ref = sum(len(set(f.frame_times)) for f in ref_fp.values())
        print(f"\n== {algorithm} ({bits} bits): fingerprints in {time.perf_counter() - t:.0f}s; {n_ref} reference "
              f"frames with {sum(len(f.hashes) for f in ref_fp.values())} hashes (regions {', '.join(KNOWN_LIMITS.regions)}); "
              f"queries hash {', '.join(QUERY_LIMITS.regions)}; distractor pool {len(pool)} frames "
              f"({sum(1 for s, _ in pool if s in SCENE_OF_CLIP.values())} corpus video, "
              f"{sum(1 for s, _ in pool if s.startswith('still:'))} stills, "
              f"{sum(1 for s, _ in pool if s.startswith('synthetic:'))} synthetic)", flush=True)

        refs = list(ref_fp)
        copies = [KnownCopy(i, 1, algorithm, f.kind, tuple(f.hashes), tuple(f.frame_times), tuple(f.quality), r)
                  for i, (r, f) in enumerate(ref_fp.items())]
        import polars as pl

        for d in distances:
            rule = MediaRule(distance=d, phash_distance=d)
            known = KnownMedia(copies, refs, rule)

            def decide(fp, post: str) -> set[str]:
                frame = pl.DataFrame({"post_id": [post], "media_url": [post], "algorithm": [algorithm],
                                      "hashes": [fp.hashes], "frame_times": [fp.frame_times], "quality": [fp.quality]})
                return set(known.match(frame)["claim_id"].to_list())

            per: dict[str, list[bool]] = {}
            failed: dict[str, list[str]] = {}
            wrong = 0
            for (ref, name), fp in q_fp.items():
                got = decide(fp, f"{ref}/{name}")
                per.setdefault(name, []).append(ref in got)
                if ref not in got:
                    failed.setdefault(name, []).append(ref)
                wrong += len(got - {ref})
            # frame-level false matches: a distractor frame any of whose hashes is within d of any
            # hash of a reference of another scene
            usable = [(s, [h for h, q in f if q >= rule.min_quality]) for s, f in pool]
            usable = [(s, hs) for s, hs in usable if hs]
            idx_hashes, idx_scene = [], []
            for r, f in ref_fp.items():
                for h, q in zip(f.hashes, f.quality):
                    if q >= rule.min_quality:
                        idx_hashes.append(h)
                        idx_scene.append(scene[r])
            index = HashIndex(hex_to_bytes(idx_hashes, bits), bits)
            flat = [(i, h) for i, (_, hs) in enumerate(usable) for h in hs]
            qi, ei, _ = index.search(hex_to_bytes([h for _, h in flat], bits), d)
            bad = {flat[int(a)][0] for a, b in zip(qi, ei) if idx_scene[int(b)] != usable[flat[int(a)][0]][0]}
            by_kind = {"video": 0, "still": 0, "synthetic": 0}
            totals = {"video": 0, "still": 0, "synthetic": 0}
            for i, (s, _) in enumerate(usable):
                k = "synthetic" if s.startswith("synthetic:") else "still" if s.startswith("still:") else "video"
                totals[k] += 1
                by_kind[k] += i in bad
            video_false = 0
            for stem, (sc, fp) in clip_fps.items():
                got = decide(fp, stem)
                video_false += len({g for g in got if scene.get(g, g) != sc})
            cells = " ".join(f"{n}={sum(v)}/{len(v)}" for n, v in per.items())
            must = all(sum(per[n]) / len(per[n]) >= 0.95 for n in MUST_PASS if n in per)
            rate = 10000 * len(bad) / max(1, len(usable))
            print(f"{algorithm} d<={d}: recall {cells}; wrong-claim matches {wrong}; false frame matches "
                  f"{len(bad)} of {len(usable)} usable distractor frames = {rate:.2f} per 10,000 "
                  f"(video {by_kind['video']}/{totals['video']}, stills {by_kind['still']}/{totals['still']}, "
                  f"synthetic {by_kind['synthetic']}/{totals['synthetic']}); corpus clips as posts matching another "
                  f"scene: {video_false}/{len(clip_fps)}; must-pass transforms >= 0.95: {'yes' if must else 'NO'}",
                  flush=True)
            print("   missed: " + "; ".join(f"{n}: {', '.join(v)}" for n, v in failed.items()), flush=True)

    if not args.skip_speed:
        speed(media, cache)


def best_of(fn, runs: int = 3) -> float:
    """The shortest wall time of ``runs`` calls of ``fn``."""
    return best_times(fn, runs)[0]


def best_times(fn, runs: int = 3) -> tuple[float, float]:
    """The shortest wall time and the shortest CPU time of this process (every thread) of ``runs``
    calls of ``fn``: on a busy machine the wall time counts other processes' turns on the core,
    the CPU time only this one's work."""
    wall = cpu = float("inf")
    for _ in range(runs):
        t, c = time.perf_counter(), time.process_time()
        fn()
        wall, cpu = min(wall, time.perf_counter() - t), min(cpu, time.process_time() - c)
    return wall, cpu


def speed(media: Path, cache: Path) -> None:
    import av
    from PIL import Image

    print("\n== speed (one core)")
    thumbs = []
    for p in sorted(cache.glob("*-thumbnail.jpg")) + sorted(cache.glob("*-scale360.jpg")):
        thumbs.append(p.read_bytes())
    src = Image.open(media / "pdq/data/reg-test-input/dih/bridge-1-original.jpg").convert("RGB")
    for w, h in ((320, 180), (480, 360), (1280, 720)):
        buf = io.BytesIO()
        src.resize((w, h)).save(buf, "JPEG", quality=85)
        thumbs.append(buf.getvalue())
    thumbs = thumbs * max(1, 200 // len(thumbs))

    def decode_only():
        for data in thumbs:
            img = Image.open(io.BytesIO(data))
            img.draft("RGB", (512, 512))
            img.convert("RGB").resize((256, 144))

    def fingerprint():
        for data in thumbs:
            image_fingerprint(data)

    (base, base_cpu), (fp, fp_cpu) = best_times(decode_only), best_times(fingerprint)
    print(f"thumbnails: {len(thumbs)} JPEGs (320x180 to 1280x720): fingerprint {len(thumbs) / fp:,.0f}/s by the "
          f"clock, {len(thumbs) / fp_cpu:,.0f}/s of CPU time; Pillow decode+resize alone {len(thumbs) / base:,.0f}/s "
          f"({len(thumbs) / base_cpu:,.0f}/s of CPU time); fingerprint/decode time x{fp / base:.2f} (CPU x{fp_cpu / base_cpu:.2f}); "
          f"goal 50/s: x{len(thumbs) / fp / 50:.1f} by the clock, x{len(thumbs) / fp_cpu / 50:.1f} of CPU time")

    clip = cache / "chair-scale360.mp4"
    with av.open(str(clip)) as c:
        dur = float(c.duration) / 1e6
        w, h = c.streams.video[0].codec_context.width, c.streams.video[0].codec_context.height

    def decode_video():
        with av.open(str(clip)) as c:
            c.streams.video[0].codec_context.thread_count = 1
            for _ in c.decode(video=0):
                pass

    base, base_cpu = best_times(decode_video)
    fpt, fpt_cpu = best_times(lambda: video_fingerprint(clip))
    print(f"video: {clip.name} {w}x{h}, {dur:.1f}s: fingerprint {dur / fpt:.1f}x real time by the clock, "
          f"{dur / fpt_cpu:.1f}x of CPU time; PyAV decode alone {dur / base:.1f}x ({dur / base_cpu:.1f}x of CPU time); "
          f"fingerprint/decode time x{fpt / base:.2f}; goal 2x: x{dur / fpt / 2:.1f} by the clock")

    rng = np.random.default_rng(1)
    n = 100_000
    bits = ALGORITHM_BITS[DEFAULT_ALGORITHM]
    limit = MediaRule().limit(DEFAULT_ALGORITHM)
    real = [h for t in thumbs[:50] for h in image_fingerprint(t).hashes]
    base_bytes = hex_to_bytes(real, bits)
    stored = rng.integers(0, 256, (n, bits // 8), dtype=np.uint8)
    stored[: len(base_bytes)] = base_bytes
    t = time.perf_counter()
    index = HashIndex(stored, bits)
    build = time.perf_counter() - t
    post = hex_to_bytes(real[:80], bits)  # a video post of 20 frames, 4 regions each
    mih = best_of(lambda: index.search(post, limit), 5)
    brute = best_of(lambda: [np.nonzero(_popcount_rows(stored ^ q) <= limit)[0] for q in post], 5)
    print(f"index: {n:,} catalogue {DEFAULT_ALGORITHM} hashes, built in {build:.2f}s; a 20-frame post (80 hashes) "
          f"searched within {limit} bits in {mih * 1000:.1f} ms (band index) vs {brute * 1000:.1f} ms "
          f"(numpy popcount over all); x{brute / mih:.1f}")
    print(f"machine load average during the speed runs: {os.getloadavg()[0]:.1f} (1 min), "
          f"{os.getloadavg()[1]:.1f} (5 min) on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
