"""Draw flagged posts per claim per day (spreading, debunking and other side by side) into a PNG.

matplotlib is imported inside :func:`plot_daily` with the Agg backend, so importing this module
costs nothing and no display is needed.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from pathlib import Path

import polars as pl

SPREADING = "#D55E00"  # Okabe-Ito vermillion: readable for colour-blind viewers
DEBUNKING = "#0072B2"  # Okabe-Ito blue
OTHER = "#BBBBBB"
MAX_PANELS = 8
HEADER = 1.55  # inches above the first panel: title, subtitle, legend


def _fit_title(ax, name: str, right_px: float, renderer) -> None:
    """``name`` as the panel's bold left title, cut with "…" so it ends before ``right_px``."""
    text, cut = name, len(name)
    while True:
        title = ax.set_title(text, loc="left", fontsize=10.5, fontweight="bold")
        if title.get_window_extent(renderer).x1 <= right_px or cut <= 4:
            return
        cut -= max(1, cut // 20)
        text = name[:cut].rstrip(" (") + "…"


def plot_daily(daily: pl.DataFrame, path: Path | str, title_suffix: str = "", tz: str = "UTC",
               titles: dict[str, str] | None = None, posts: dict[str, int] | None = None) -> Path:
    """Write ``daily`` (from :func:`flows.report.daily_counts`) as one panel per claim.

    Claims with the most flags come first; beyond eight claims the rest are left out and the
    title says so. An empty frame gives a figure that says nothing matched. ``titles`` maps claim
    ids to the titles the panels show (the id is shown beside a title). ``posts`` gives the
    subtitle's distinct post counts (:func:`flows.report.post_totals`): a post flagged for two
    claims is one post there; without it the per-claim rows are summed. Every panel shares one
    y-scale, so bar heights compare across claims. A panel's title is cut (with "…") where it
    would run into the panel's counts on the right; the legend has a line of its own.
    """
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    path = Path(path)
    totals = (
        daily.group_by("claim_id")
        .agg(pl.col("spreading").sum(), pl.col("debunking").sum(), pl.col("other").sum(), pl.col("total").sum())
        .sort(["total", "claim_id"], descending=[True, False])
    )
    claims = totals["claim_id"].to_list()[:MAX_PANELS]
    title = "Flagged posts per claim per day"
    n = {k: int(daily[k].sum()) for k in ("spreading", "debunking", "other", "total")}
    if posts is not None:
        n = {k: int(posts.get(k, 0)) for k in n}
    titles = titles or {}
    subtitle = f"{n['total']} posts: {n['spreading']} spreading, {n['debunking']} debunking"
    if n["other"]:
        subtitle += f", {n['other']} other"
    if daily.height:
        subtitle += f"; published {daily['day'].min():%d %b %Y} to {daily['day'].max():%d %b %Y}"
    if title_suffix:
        subtitle += f"; {title_suffix}"
    if len(totals) > MAX_PANELS:
        subtitle += f"; top {MAX_PANELS} of {len(totals)} claims"

    with plt.rc_context({"font.size": 10, "axes.spines.top": False, "axes.spines.right": False}):
        if not claims:
            fig, ax = plt.subplots(figsize=(9, 2.5))
            ax.axis("off")
            ax.text(0.5, 0.5, "No flagged posts match these filters", ha="center", va="center", fontsize=13)
            fig.suptitle(title, fontsize=14, fontweight="bold")
            fig.savefig(path, dpi=120)
            plt.close(fig)
            return path

        first, last = daily["day"].min(), daily["day"].max()
        height = HEADER + 2.0 * len(claims)
        fig, axes = plt.subplots(len(claims), 1, figsize=(10, height), sharex=True, sharey=True, squeeze=False)
        shown = daily.filter(pl.col("claim_id").is_in(claims))
        top = max([int(shown[k].max() or 0) for k in ("spreading", "debunking", "other")] + [1])
        fig.subplots_adjust(left=0.07, right=0.98, top=1 - (HEADER - 0.25) / height, bottom=0.75 / height, hspace=0.42)
        renderer = fig.canvas.get_renderer()
        if n["other"]:
            width = 0.27
            series = (("spreading", SPREADING, -width), ("debunking", DEBUNKING, 0.0), ("other", OTHER, width))
        else:
            width = 0.36
            series = (("spreading", SPREADING, -width / 2), ("debunking", DEBUNKING, width / 2))
        label_bars = (last - first).days < 14  # counts on the bars while they stay legible
        for ax, claim in zip(axes[:, 0], claims):
            rows = daily.filter(pl.col("claim_id") == claim).sort("day")
            days = [datetime.combine(d, time(0)) for d in rows["day"].to_list()]
            for name, colour, shift in series:
                label = "other (needs review, mentions, unclear)" if name == "other" else name
                bars = ax.bar([t + timedelta(days=shift) for t in days], rows[name].to_list(), width=width, color=colour, label=label)
                if label_bars:
                    ax.bar_label(bars, labels=[str(v) if v else "" for v in rows[name].to_list()], padding=2, fontsize=8.5, color="#333333")
            t = totals.filter(pl.col("claim_id") == claim).row(0, named=True)
            name = titles.get(claim)
            name = f"{name}  ({claim})" if name and name != claim else claim
            counts = ax.set_title(f"{t['spreading']} spreading, {t['debunking']} debunking"
                                  + (f", {t['other']} other" if t["other"] else ""),
                                  loc="right", fontsize=9.5, color="#333333")
            _fit_title(ax, name, counts.get_window_extent(renderer).x0 - 10, renderer)
            ax.set_ylabel("posts")
            ax.yaxis.get_major_locator().set_params(integer=True)
            ax.set_ylim(0, top * 1.2)
            ax.grid(axis="y", color="#dddddd", linewidth=0.8)
            ax.set_axisbelow(True)

        ax = axes[-1, 0]
        ax.set_xlim(datetime.combine(first, time(0)) - timedelta(hours=16), datetime.combine(last, time(0)) + timedelta(hours=16))
        span = (last - first).days + 1
        if span <= 31:
            ax.xaxis.set_major_locator(mdates.DayLocator(interval=max(1, round(span / 10))))
            ax.xaxis.set_major_formatter(mdates.DateFormatter("%d %b\n%Y" if first.year != last.year else "%d %b"))
        else:
            locator = mdates.AutoDateLocator(minticks=3, maxticks=10)
            ax.xaxis.set_major_locator(locator)
            ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
        ax.set_xlabel(f"day of publication ({tz})")
        handles, labels = axes[0, 0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="upper left", ncols=len(series), frameon=False,
                   bbox_to_anchor=(0.01, 1 - 0.76 / height), borderaxespad=0, handlelength=1.4)
        fig.text(0.02, 1 - 0.38 / height, title, ha="left", va="baseline", fontsize=14, fontweight="bold")
        fig.text(0.02, 1 - 0.66 / height, subtitle, ha="left", va="baseline", fontsize=9.5, color="#555555")
        fig.savefig(path, dpi=120)
        plt.close(fig)
    return path
