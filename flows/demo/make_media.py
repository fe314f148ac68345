"""Writes the demo's media (run from the repository root: ``python flows/demo/make_media.py``).

* ``flows/demo/media/demo-clip.mp4``: an 8-second synthetic clip (seeded noise texture and moving
  shapes, drawn with numpy and encoded with PyAV), standing in for a known copy of the edited
  Trump-Khan clip. Made here, so its licence is the project's.
* ``flows/demo/responses/youtube/thumbs/Vt7wQ2mXc9A-mqdefault.jpg``: the thumbnail of a replayed
  re-upload: the clip's frame at 3.3 s, cropped by 5% on every side, brightened, under a white
  caption band, with a channel watermark, scaled to 320x180 and saved as a JPEG (transforms the
  fingerprints are measured to survive: see docs/matching.md).
* ``flows/demo/responses/media/still-<n>.jpg``: unrelated synthetic pictures served for the other
  demo posts' media (so the media step fingerprints them and finds nothing).

The clip's fingerprint is in ``rules/claims/trump-khan-release-clip.yaml`` (written with
``claimwatch claims add-media trump-khan-release-clip flows/demo/media/demo-clip.mp4``). The clip
is written only when missing, so its fingerprint stays valid; the thumbnail and stills are
rewritten every time.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

DEMO = Path(__file__).resolve().parent
W, H, FPS, SECONDS = 480, 270, 24, 8


def texture(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    spec = np.fft.rfft2(rng.standard_normal((h, w)))
    fy, fx = np.fft.fftfreq(h)[:, None], np.fft.rfftfreq(w)[None, :]
    spec /= np.maximum(np.hypot(fx, fy), 1.0 / max(w, h)) ** 1.3
    out = []
    for k in range(3):
        f = np.fft.irfft2(spec * np.exp(1j * k * 0.9), s=(h, w))
        out.append((f - f.min()) / (np.ptp(f) + 1e-9))
    return (np.stack(out, -1) * 200 + 20).astype(np.uint8)


def frames():
    rng = np.random.default_rng(2024)
    bg = texture(rng, H * 2, W * 2)
    shapes = [(rng.uniform(0, W), rng.uniform(0, H), rng.uniform(25, 70), rng.uniform(-40, 40), rng.uniform(-25, 25),
               rng.integers(0, 256, 3)) for _ in range(6)]
    yy, xx = np.mgrid[0:H, 0:W]
    for i in range(FPS * SECONDS):
        t = i / FPS
        ox, oy = int(40 * t) % W, int(18 * t) % H  # a slow pan over the texture
        frame = bg[oy:oy + H, ox:ox + W].copy()
        for x0, y0, r, vx, vy, colour in shapes:
            cx, cy = (x0 + vx * t) % W, (y0 + vy * t) % H
            frame[(xx - cx) ** 2 + ((yy - cy) * 1.3) ** 2 < r * r] = colour
        if t >= 4.0:  # a cut: the second shot is the texture mirrored and tinted
            frame = frame[:, ::-1] // 2 + np.array([60, 20, 0], dtype=np.uint8)
        yield frame


def write_clip(path: Path) -> None:
    import av

    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=FPS)
        s.width, s.height, s.pix_fmt = W, H, "yuv420p"
        s.options = {"crf": "30", "preset": "slow"}
        for arr in frames():
            for p in s.encode(av.VideoFrame.from_ndarray(arr, format="rgb24")):
                out.mux(p)
        for p in s.encode():
            out.mux(p)


def write_thumbnail(clip: Path, path: Path) -> None:
    """The re-upload's thumbnail: the clip's frame at 3.3 s, 5% cropped off every side, brightened,
    under a white caption band, with a channel watermark, scaled to 320x180 and saved as a JPEG."""
    import av
    from PIL import Image, ImageDraw, ImageEnhance, ImageFont

    with av.open(str(clip)) as c:
        frame = next(f for f in c.decode(video=0) if f.time >= 3.3).to_image()
    frame = frame.crop((W // 20, H // 20, W - W // 20, H - H // 20))
    frame = ImageEnhance.Brightness(frame).enhance(1.15)

    def font(size: int):
        try:
            return ImageFont.truetype("DejaVuSans-Bold.ttf", size)
        except OSError:
            return ImageFont.load_default()

    band = 44
    canvas = Image.new("RGB", (frame.width, frame.height + band), (255, 255, 255))
    canvas.paste(frame, (0, band))
    draw = ImageDraw.Draw(canvas)
    draw.text((16, 10), "MUST WATCH - what he said", fill=(0, 0, 0), font=font(22))
    draw.text((frame.width - 120, canvas.height - 30), "@viral.pk", fill=(255, 255, 255), font=font(18))
    canvas.resize((320, 180), Image.BILINEAR).save(path, quality=70)


def write_stills(folder: Path, n: int) -> None:
    from PIL import Image

    rng = np.random.default_rng(7)
    for i in range(n):
        Image.fromarray(texture(rng, 180, 320)).save(folder / f"still-{i + 1}.jpg", quality=80)


if __name__ == "__main__":
    clip = DEMO / "media" / "demo-clip.mp4"
    clip.parent.mkdir(exist_ok=True)
    if not clip.exists():
        write_clip(clip)
    thumbs = DEMO / "responses" / "youtube" / "thumbs"
    thumbs.mkdir(parents=True, exist_ok=True)
    write_thumbnail(clip, thumbs / "Vt7wQ2mXc9A-mqdefault.jpg")
    stills = DEMO / "responses" / "media"
    stills.mkdir(exist_ok=True)
    write_stills(stills, 4)
    print(f"{clip}: {clip.stat().st_size:,} bytes")
