"""``claimwatch report --plot``: a PNG with spreading and debunking bars per claim per day."""

from __future__ import annotations

import subprocess
import sys
from datetime import date, datetime, timezone
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import typer
from typer.testing import CliRunner

from flows import plot
from flows import report as rep
from flows.commands import report as report_command
from tests.flows.test_report import demo, write_sample_dataset  # noqa: F401 (demo is a fixture)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _pixels_near(image: np.ndarray, hex_colour: str, tol: float = 0.03) -> int:
    rgb = np.array([int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)])
    return int((np.abs(image[..., :3] - rgb).max(axis=-1) < tol).sum())


def _read_png(path):
    import matplotlib.image

    return matplotlib.image.imread(path)


def test_importing_plot_does_not_load_matplotlib():
    code = "import flows.plot, flows.report, flows.commands.report, sys; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_plot_draws_spreading_and_debunking_in_their_own_colours(tmp_path):
    data = write_sample_dataset(tmp_path / "data")
    daily = rep.daily_counts(rep.flagged_posts(data))
    out = plot.plot_daily(daily, tmp_path / "daily.png")
    assert out.read_bytes()[:8] == PNG_MAGIC
    image = _read_png(out)
    height, width = image.shape[:2]
    assert width == 1200 and height > 500  # 10 in wide at 120 dpi, one panel per claim
    assert _pixels_near(image, plot.SPREADING) > 2000
    assert _pixels_near(image, plot.DEBUNKING) > 1000
    assert _pixels_near(image, plot.OTHER) > 500


def test_plot_only_debunks_shows_no_spreading_colour(tmp_path):
    data = write_sample_dataset(tmp_path / "data")
    daily = rep.daily_counts(rep.flagged_posts(data, rep.Filters(labels=("debunk",))))
    image = _read_png(plot.plot_daily(daily, tmp_path / "debunks.png"))
    assert _pixels_near(image, plot.DEBUNKING) > 1000
    assert _pixels_near(image, plot.SPREADING) < 600  # the legend swatch only


def test_plot_of_nothing_still_writes_a_png_that_says_so(tmp_path):
    empty = pl.DataFrame(
        schema={"claim_id": pl.String, "day": pl.Date, "spreading": pl.Int64, "debunking": pl.Int64,
                "other": pl.Int64, "total": pl.Int64}
    )
    out = plot.plot_daily(empty, tmp_path / "empty.png")
    assert out.read_bytes()[:8] == PNG_MAGIC
    assert _pixels_near(_read_png(out), plot.SPREADING) == 0


def test_many_claims_keep_the_busiest_panels(tmp_path):
    rows = [
        {"claim_id": f"claim-{i:02d}", "day": date(2024, 11, 20), "spreading": i, "debunking": 1, "other": 0, "total": i + 1}
        for i in range(12)
    ]
    out = plot.plot_daily(pl.DataFrame(rows), tmp_path / "many.png")
    height = _read_png(out).shape[0]
    assert height == round(120 * (plot.HEADER + 2.0 * plot.MAX_PANELS))


def test_report_plot_option_writes_the_file(tmp_path):
    data = write_sample_dataset(tmp_path / "data")
    app = typer.Typer()
    app.callback()(lambda: None)
    report_command.register(app)
    target = tmp_path / "out.png"
    result = CliRunner().invoke(app, ["report", "--data-dir", str(data), "--plot", str(target), "--view", "daily"])
    assert result.exit_code == 0, result.output
    assert target.read_bytes()[:8] == PNG_MAGIC
    assert f"wrote {target}" in result.stderr


def test_the_chart_counts_distinct_posts_only_likely_misinformation_as_spreading_with_titles_and_one_scale(
        tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    from rules.schema import MATCHES_SCHEMA
    from tests.flows.test_report import CLIP, OTHER

    data = write_sample_dataset(tmp_path / "data")
    # the Telegram post spreads a second claim too: one post, two (post, claim) rows
    extra = pl.DataFrame([{"run_id": "r3", "post_id": "telegram:insafpk/101", "claim_id": OTHER, "score": 70.0,
                           "rank": 2, "stance": "spreads", "label": "likely_misinformation",
                           "catalogue_version": "v2", "flagged_at": datetime(2024, 11, 22, 3, tzinfo=timezone.utc)}],
                         schema_overrides={k: v for k, v in MATCHES_SCHEMA.items() if k in (
                             "score", "rank", "flagged_at")})
    out = data / "matches" / "date=2024-11-22" / "part-r3.parquet"
    extra.write_parquet(out)
    figures = []
    save = Figure.savefig
    monkeypatch.setattr(Figure, "savefig", lambda fig, *a, **k: (figures.append(fig), save(fig, *a, **k))[1])
    app = typer.Typer()
    app.callback()(lambda: None)
    report_command.register(app)
    result = CliRunner().invoke(app, ["report", "--data-dir", str(data), "--plot", str(tmp_path / "c.png")])
    assert result.exit_code == 0, result.output
    (fig,) = figures
    subtitle = fig.texts[1].get_text()
    # 8 distinct posts (9 post-claim rows); spreading = likely_misinformation + spreads only: the
    # Reddit post (needs_review) is "other"
    assert subtitle.startswith("8 posts: 4 spreading, 2 debunking, 2 other"), subtitle
    titles = [(ax.get_title(loc="left"), ax.get_title(loc="right")) for ax in fig.axes]
    assert titles == [(f"Edited clip  ({CLIP})", "4 spreading, 2 debunking, 1 other"),
                      (f"Ballot video  ({OTHER})", "1 spreading, 0 debunking, 1 other")]
    assert len({ax.get_ylim() for ax in fig.axes}) == 1  # one y-scale for the figure


def test_long_claim_titles_are_cut_before_the_counts_and_nothing_leaves_the_figure_or_overlaps(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    figures = []
    save = Figure.savefig
    monkeypatch.setattr(Figure, "savefig", lambda fig, *a, **k: (figures.append(fig), save(fig, *a, **k))[1])
    claim = "cr-donald-trump-promising-work-release-imran-khan-0ec7613a2c"
    title = "Old footage of an injured Imran Khan shared as a new injury, attack or death in 2024"
    daily = pl.DataFrame([{"claim_id": claim, "day": date(2024, 11, 20), "spreading": 12, "debunking": 30, "other": 4,
                           "total": 46}])
    plot.plot_daily(daily, tmp_path / "long.png", titles={claim: title})
    (fig,) = figures
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)  # the title positions as saved
    (ax,) = fig.axes
    left, right = ax._left_title, ax._right_title  # the Text artists of get_title(loc="left"|"right")
    assert left.get_text().startswith("Old footage of an injured Imran Khan") and left.get_text().endswith("…")
    assert right.get_text() == "12 spreading, 30 debunking, 4 other"
    assert left.get_window_extent(renderer).x1 < right.get_window_extent(renderer).x0
    width = fig.bbox.width
    boxes = [t.get_window_extent(renderer) for t in (*fig.texts, left, right)] + [fig.legends[0].get_window_extent(renderer)]
    assert all(0 <= b.x0 and b.x1 <= width for b in boxes), [(b.x0, b.x1, width) for b in boxes]
    header = [t.get_window_extent(renderer) for t in fig.texts] + [fig.legends[0].get_window_extent(renderer)]
    assert not any(a.overlaps(b) for i, a in enumerate(header) for b in header[i + 1:])  # title, subtitle, legend


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("no/dir/x.png", "--plot {p}: cannot write the file, folder {p.parent} does not exist; create it or choose another folder"),
        ("daily", "--plot {p}: give a file name ending in .png, e.g. {p}.png"),
        ("daily.svg", "--plot {p}: give a file name ending in .png, e.g. {p.parent}/daily.png"),
        (".", "--plot {p} is a folder; give a file name ending in .png, e.g. {p}/daily.png"),
    ],
)
def test_report_plot_to_a_path_it_cannot_use_is_one_line_before_any_work(tmp_path, target, message):
    data = write_sample_dataset(tmp_path / "data")
    app = typer.Typer()
    app.callback()(lambda: None)
    report_command.register(app)
    path = tmp_path / target if target != "." else tmp_path
    result = CliRunner().invoke(app, ["report", "--data-dir", str(data), "--plot", str(path)])
    assert result.exit_code == 2 and result.stdout == ""  # a bad --plot value is a usage mistake
    assert result.stderr.strip() == "claimwatch report: " + message.format(p=path)
    assert not list(tmp_path.rglob("*.png"))


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs /proc, where no file can be created")
def test_report_plot_that_cannot_be_written_is_one_line(tmp_path):
    data = write_sample_dataset(tmp_path / "data")
    target = Path("/proc") / "claimwatch-daily.png"  # an existing folder that refuses new files, even to root
    app = typer.Typer()
    app.callback()(lambda: None)
    report_command.register(app)
    result = CliRunner().invoke(app, ["report", "--data-dir", str(data), "--plot", str(target)])
    assert result.exit_code == 1 and "Traceback" not in result.output and result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"claimwatch report: --plot {target}: cannot write the file (") and line.endswith("); choose a writable path")


@pytest.mark.prefect
def test_plot_of_the_demo_has_a_panel_per_flagged_claim(demo, tmp_path):
    daily = rep.daily_counts(rep.flagged_posts(demo))
    claims = daily["claim_id"].n_unique()
    image = _read_png(plot.plot_daily(daily, tmp_path / "demo.png"))
    assert image.shape[0] == round(120 * (plot.HEADER + 2.0 * min(claims, plot.MAX_PANELS)))
    assert _pixels_near(image, plot.SPREADING) > 1000 and _pixels_near(image, plot.DEBUNKING) > 1000
