"""``claimwatch report``: latest flagged posts and per-claim daily counts from the Parquet dataset."""

from __future__ import annotations

import csv
import io
import json
import sys
from dataclasses import replace
from datetime import date, datetime
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer


class Format(str, Enum):
    table = "table"
    csv = "csv"
    json = "json"


class View(str, Enum):
    both = "both"
    flags = "flags"
    daily = "daily"


def register(app: typer.Typer) -> None:
    app.command("report")(report)


def report(
    data_dir: str = typer.Option("claimwatch-data", "--data-dir", help="Dataset written by `claimwatch run`: a folder, "
                                 "s3://bucket/prefix or gs://bucket/prefix."),
    since: Optional[str] = typer.Option(None, help="Only posts published since: 2024-11-20 (midnight in --tz), 2024-11-20T08:00 (in --tz unless it has an offset), or 7d / 24h / 30m / 2w ago."),
    claim: Optional[List[str]] = typer.Option(None, help="Only this claim id (repeat or comma-separate for several)."),
    platform: Optional[List[str]] = typer.Option(None, help="Only this platform: news, mastodon, bluesky, reddit, youtube, telegram (any case)."),
    label: Optional[List[str]] = typer.Option(
        None,
        help="Labels to include (repeatable, comma-separated, or 'all'). Default: likely_misinformation, needs_review, debunk.",
    ),
    fmt: Format = typer.Option(Format.table, "--format", help="table (for reading), csv or json (for tools)."),
    view: Optional[View] = typer.Option(None, help="flags, daily or both. Default: both; flags for csv."),
    limit: int = typer.Option(50, min=0, help="Show at most this many latest flags (0 = all)."),
    tz: str = typer.Option("UTC", help="Time zone for times and days, e.g. Asia/Karachi."),
    plot: Optional[Path] = typer.Option(None, help="Also draw flagged posts per claim per day into this PNG file."),
    quality: bool = typer.Option(False, "--quality", help="Instead: precision as measured by reviewers' verdicts "
                                 "(`claimwatch review`), per claim, language and platform; --since is the review time (in --tz)."),
) -> None:
    """Show the latest flagged posts and how many posts spread or debunk each claim per day.

    Times, days and --since dates are in --tz. Exit codes: 0 done; 1 the data cannot be used
    (no dataset at --data-dir, an unreadable part file, the plot file cannot be written); 2 a bad
    option value or usage (--since, --tz, --label, --claim, --platform, --format/--view, --plot
    name or folder). Each problem is one line on stderr.
    """
    from flows import report as rep

    if quality:
        if view is not None or plot is not None:
            typer.echo("claimwatch report: --quality prints precision tables; leave out --view and --plot", err=True)
            raise typer.Exit(2)
        from flows.commands.review import quality_report

        quality_report(data_dir, since, claim, platform, label, fmt.value, tz)
        return

    try:
        filters = rep.Filters(
            since=rep.parse_since(since, tz=rep.check_tz(tz)) if since is not None else None,
            labels=rep.parse_labels(label),
            tz=rep.check_tz(tz),
        )
        if view is None:
            view_ = View.flags if fmt is Format.csv else View.both
        else:
            view_ = view
        if fmt is Format.csv and view_ is View.both:
            raise rep.UsageError("--format csv writes one table: add --view flags or --view daily")
        if plot is not None:
            _check_plot_path(plot)
        with rep.reading(data_dir):
            rep.require_data(data_dir)
            filters = replace(
                filters,
                claims=rep.check_choices(data_dir, "--claim", "claim_id", claim or ()),
                platforms=rep.check_choices(data_dir, "--platform", "platform", platform or ()),
            )
            flags = rep.collect(lambda: rep.flagged_posts(data_dir, filters)).lazy()
            no_matches = rep.scan(data_dir, "matches") is None
        latest = rep.latest_flags(flags, limit or None, tz=filters.tz) if view_ in (View.both, View.flags) else None
        counts = rep.daily_counts(flags) if view_ in (View.both, View.daily) or plot is not None else None
        daily = counts if view_ in (View.both, View.daily) else None
        if plot is not None:
            from flows.plot import plot_daily

            try:
                with rep.reading(data_dir):
                    titles = rep.claim_titles(data_dir)
                plot_daily(counts, plot, title_suffix=_describe(filters), tz=filters.tz,
                           titles=titles, posts=rep.post_totals(flags))
            except OSError as exc:
                raise rep.ReportError(f"--plot {plot}: cannot write the file ({exc.strerror or exc}); choose a writable path") from None
    except rep.ReportError as exc:
        typer.echo(f"claimwatch report: {exc}", err=True)
        raise typer.Exit(2 if isinstance(exc, rep.UsageError) else 1)

    if no_matches:
        typer.echo(f"claimwatch report: {data_dir} has no matches yet, so nothing is flagged; "
                   f"`claimwatch run --data-dir {data_dir}` matches the posts it fetches", err=True)
    out = sys.stdout
    if fmt is Format.json:
        payload = {}
        if latest is not None:
            payload["flags"] = _records(latest)
        if daily is not None:
            payload["daily"] = _records(daily)
        json.dump(payload, out, ensure_ascii=False, indent=2)
        out.write("\n")
    elif fmt is Format.csv:
        _write_csv(latest if latest is not None else daily, out)
    else:
        if latest is not None:
            shown = f"latest {latest.height}" if limit else f"all {latest.height}"
            out.write(f"Flagged posts ({shown}; labels: {', '.join(filters.labels)}; times {filters.tz})\n")
            out.write(_table(latest) if latest.height else "  none match these filters\n")
        if daily is not None:
            if latest is not None:
                out.write("\n")
            out.write(f"Per claim per day (day in {filters.tz}, by publication time)\n")
            out.write(_table(daily) if daily.height else "  none match these filters\n")
    if plot is not None:
        typer.echo(f"wrote {plot}", err=True)


def _check_plot_path(plot: Path) -> None:
    from flows.report import UsageError as ReportError

    if plot.is_dir():
        raise ReportError(f"--plot {plot} is a folder; give a file name ending in .png, e.g. {plot / 'daily.png'}")
    if plot.suffix.lower() != ".png":
        raise ReportError(f"--plot {plot}: give a file name ending in .png, e.g. {plot.with_suffix('.png')}")
    folder = plot.parent
    if not folder.is_dir():
        raise ReportError(f"--plot {plot}: cannot write the file, folder {folder} does not exist; create it or choose another folder")


def _describe(filters) -> str:
    from zoneinfo import ZoneInfo

    parts = []
    if filters.since:
        parts.append(f"since {filters.since.astimezone(ZoneInfo(filters.tz)):%Y-%m-%d %H:%M} {filters.tz}")
    if filters.platforms:
        parts.append(", ".join(filters.platforms))
    return "; ".join(parts)


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def _json_value(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def _records(df) -> list[dict]:
    return [{k: _json_value(v) for k, v in row.items()} for row in df.iter_rows(named=True)]


def _write_csv(df, out) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(df.columns)
    for row in df.iter_rows():
        writer.writerow([_json_value(v) if v is not None else "" for v in row])
    out.write(buf.getvalue())


def _table(df) -> str:
    rows = [[_cell(v) for v in row] for row in df.iter_rows()]
    widths = [max([len(c)] + [len(r[i]) for r in rows]) for i, c in enumerate(df.columns)]
    numeric = [dtype.is_numeric() for dtype in df.dtypes]

    def line(cells):
        return "  ".join(c.rjust(w) if num else c.ljust(w) for c, w, num in zip(cells, widths, numeric)).rstrip()

    out = [line(df.columns), line(["-" * w for w in widths])]
    out.extend(line(r) for r in rows)
    return "\n".join(out) + "\n"
