"""``claimwatch review list|mark|import``: the review queue and reviewers' verdicts.

Verdicts go into the ``reviews`` table of the data dir (see :mod:`flows.reviews` and
docs/data.md). Exit codes: 0 done (also when a verdict was already recorded), 2 a bad input
(unknown post, claim or verdict word, a malformed reviews file, a missing data dir): one line,
nothing written; 1 a part file of the data dir cannot be read.
"""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import List, Optional
from zoneinfo import ZoneInfo

import typer

review_app = typer.Typer(help="The review queue, and reviewers' verdicts on matches (the next run learns from them).",
                         no_args_is_help=True, add_completion=False)

DATA_DIR_HELP = "Dataset written by `claimwatch run`: a folder, s3://bucket/prefix or gs://bucket/prefix."
VERDICT_HELP = "confirmed, not_this_claim, wrong_stance or true_content (spaces and hyphens work too)."


class Format(str, Enum):
    table = "table"
    csv = "csv"
    json = "json"


def register(app: typer.Typer) -> None:
    app.add_typer(review_app, name="review")


class Bad(Exception):
    """A one-line problem with an input (exit 2) or with the dataset (exit 1)."""

    def __init__(self, message: str, code: int = 2):
        super().__init__(message)
        self.code = code


def _fail(msg: str, code: int = 2, prog: str = "claimwatch review") -> None:
    typer.echo(f"{prog}: {msg}", err=True)
    raise typer.Exit(code)


def open_store(data_dir: Path | str):
    """The data dir's store (a folder, or an ``s3://``/``gs://`` URL); :class:`Bad` when there is
    no data dir there."""
    from flows.store import Store, StoreError

    if "://" in str(data_dir):
        try:
            store = Store(str(data_dir).rstrip("/"))
            store.io.ensure()  # the bucket must exist and answer
        except StoreError as exc:
            raise Bad(str(exc)) from None
        return store
    data_dir = Path(data_dir)
    if data_dir.exists() and not data_dir.is_dir():
        raise Bad(f"{data_dir} is a file, not a claimwatch data dir: pass the folder given to `claimwatch run --data-dir`")
    if not data_dir.is_dir():
        raise Bad(f"no claimwatch data in {data_dir} (directory missing): run `claimwatch run --data-dir {data_dir}` first")
    return Store(data_dir)


def _store(data_dir: Path | str):
    try:
        return open_store(data_dir)
    except Bad as exc:
        _fail(str(exc), exc.code)


def choices(store, option: str, column: str, values: Optional[List[str]]) -> tuple[str, ...]:
    """Comma-separated or repeated values that must occur in the data (a typo names what does)."""
    import polars as pl

    given = tuple(v.strip() for value in values or () for v in value.split(",") if v.strip())
    if values and not given:
        raise Bad(f"{option} is empty; give a value or leave the option out")
    if not given:
        return ()
    if column == "claim_id":
        from flows.reviews import known_claims

        known = known_claims(store)
    else:
        known = sorted(v for v in store.collect("posts", store.scan("posts").select(pl.col(column).unique()))
                       .get_column(column).to_list() if v)
    by_fold = {k.casefold(): k for k in known}
    given = tuple(v if v in known else by_fold.get(v.casefold(), v) for v in given)  # any case, as in `report`
    unknown = [v for v in given if v not in known]
    if unknown:
        shown = ", ".join(known[:12]) + (" ..." if len(known) > 12 else "")
        raise Bad(f"{option} {unknown[0]!r} does not occur in {store.root}; known: {shown or 'none'}")
    return given


def labels_option(values: Optional[List[str]], default: tuple[str, ...]) -> tuple[str, ...]:
    from flows.reviews import ALL_LABELS

    out: list[str] = []
    for value in values or ():
        for part in (p.strip().lower() for p in value.split(",")):
            if part == "all":
                out.extend(ALL_LABELS)
            elif part in ALL_LABELS:
                out.append(part)
            elif part:
                raise Bad(f"--label {part!r} is not a label; use one of {', '.join(ALL_LABELS)} or all")
    if values and not out:
        raise Bad(f"--label is empty; use one of {', '.join(ALL_LABELS)} or all, or leave the option out")
    return tuple(dict.fromkeys(out)) or default


def since_option(since: Optional[str], tz: str = "UTC"):
    from flows import report as rep

    try:
        zone = rep.check_tz(tz)
        return rep.parse_since(since, tz=zone) if since is not None else None
    except rep.ReportError as exc:
        raise Bad(str(exc)) from None


@review_app.command("list")
def list_queue(
    data_dir: str = typer.Option("claimwatch-data", "--data-dir", help=DATA_DIR_HELP),
    claim: Optional[List[str]] = typer.Option(None, help="Only this claim id (repeat or comma-separate for several)."),
    platform: Optional[List[str]] = typer.Option(None, help="Only this platform: news, mastodon, bluesky, reddit, youtube, telegram."),
    label: Optional[List[str]] = typer.Option(
        None, help="Labels to list (repeatable, comma-separated, or 'all'). Default: needs_review and likely_misinformation."),
    since: Optional[str] = typer.Option(None, help="Only matches made since: 2024-11-20, 2024-11-20T08:00, or 7d / 24h / 30m ago."),
    limit: int = typer.Option(50, min=0, help="Show at most this many (0 = all)."),
    reviewed: bool = typer.Option(False, "--reviewed", help="Also list pairs that already have a verdict, with it."),
    fmt: Format = typer.Option(Format.table, "--format", help="table (for reading), csv or json (for tools)."),
) -> None:
    """Show the review queue: unreviewed needs_review rows and flags, newest first, with the
    post's text, the claim, the evidence and the link.

    `--format csv` gives one row per pair with empty verdict and reviewer columns: fill them in
    and load the file with `claimwatch review import`."""
    from flows import reviews
    from flows.store import StoreError

    try:
        store = open_store(data_dir)
        labels = labels_option(label, reviews.QUEUE_LABELS)
        when = since_option(since)
        claims = choices(store, "--claim", "claim_id", claim)
        platforms = choices(store, "--platform", "platform", platform)
        rows = reviews.queue(store, claims=claims, platforms=platforms, labels=labels, since=when,
                             limit=limit or None, reviewed=reviewed)
    except Bad as exc:
        _fail(str(exc), exc.code)
    except StoreError as exc:
        _fail(str(exc), 1)
    if not store.files("matches"):
        typer.echo(f"claimwatch review: {data_dir} has no matches yet, so nothing waits for review", err=True)
    from flows.commands.report import _records, _write_csv

    if fmt is Format.json:
        import json

        json.dump({"queue": _records(rows)}, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    elif fmt is Format.csv:
        _write_csv(rows, sys.stdout)
    else:
        sys.stdout.write(_blocks(rows, labels, reviewed))


def _blocks(rows, labels: tuple[str, ...], reviewed: bool) -> str:
    what = "pairs" if reviewed else "unreviewed pairs"
    head = f"Review queue: {rows.height} {what} (labels: {', '.join(labels)}; newest first; times UTC)\n"
    if not rows.height:
        return head + "  nothing waits for review with these filters\n"
    out = [head]
    for i, r in enumerate(rows.iter_rows(named=True), 1):
        when = f"{r['flagged_at']:%Y-%m-%d %H:%M}" if r["flagged_at"] else "-"
        score = f"{r['score']:.1f}" if r["score"] is not None else "-"
        out.append(f"\n{i}. {r['label']}  {r['claim_id']}  score {score}  stance {r['stance'] or '-'}  "
                   f"{r['platform'] or '-'}  {when}\n")
        out.append(f"   post      {r['post_id']}\n")
        out.append(f"   link      {r['url'] or '-'}\n")
        out.append(f"   text      {r['excerpt'] or '(no text)'}\n")
        out.append(f"   claim     {r['claim_title'] or '-'}\n")
        out.append(f"   evidence  {r['evidence'] or '-'}\n")
        if r["verdict"]:
            out.append(f"   verdict   {r['verdict']} by {r['reviewer']} ({r['reviewed_at']:%Y-%m-%d %H:%M})\n")
    out.append("\nRecord a verdict: claimwatch review mark POST_ID CLAIM_ID VERDICT --reviewer NAME\n"
               "  (VERDICT: confirmed, not_this_claim, wrong_stance, true_content)\n")
    return "".join(out)


@review_app.command("mark")
def mark(
    post_id: str = typer.Argument(..., help="The post's id (`claimwatch review list` shows it)."),
    claim_id: str = typer.Argument(..., help="The claim's id."),
    verdict: str = typer.Argument(..., help=VERDICT_HELP),
    reviewer: Optional[str] = typer.Option(None, "--reviewer", envvar="CLAIMWATCH_REVIEWER",
                                           help="Who reviews (or set CLAIMWATCH_REVIEWER)."),
    note: Optional[str] = typer.Option(None, "--note", help="Why, for the other reviewers."),
    data_dir: str = typer.Option("claimwatch-data", "--data-dir", help=DATA_DIR_HELP),
) -> None:
    """Record a verdict on one (post, claim). Marking the verdict you already gave changes nothing;
    a different one is recorded as your new verdict (the latest counts).

    From the next run, not_this_claim and true_content make the post a counter-example of the claim: it and posts that say the same are not flagged for it. confirmed makes it an example: posts that say the same score like the claim's variants."""
    from flows import reviews
    from flows.store import StoreError

    try:
        word = reviews.parse_verdict(verdict)
        name = reviews.check_reviewer(reviewer)
    except reviews.ReviewError as exc:
        _fail(str(exc))
    store = _store(data_dir)
    note = note.strip() if note and note.strip() else None
    try:
        before = reviews.current_per_reviewer(store)
        held = before.filter((before["post_id"] == post_id) & (before["claim_id"] == claim_id)
                             & (before["reviewer"] == name))
        done = reviews.record(store, [reviews.Verdict(post_id, claim_id, word, name, note)])
    except reviews.ReviewError as exc:
        _fail(str(exc))
    except StoreError as exc:
        _fail(str(exc), 1)
    if done.unchanged:
        typer.echo(f"unchanged: {name} already holds {word} on {post_id} / {claim_id}; nothing written")
        return
    was = f" (was {held['verdict'][0]})" if held.height else ""
    typer.echo(f"recorded {word} on {post_id} / {claim_id} by {name}{was}")
    if done.unmatched:
        typer.echo("  note: the matcher has not paired this post with this claim; kept as the reviewer's own finding",
                   err=True)


@review_app.command("import")
def import_reviews(
    file: Path = typer.Argument(..., help="Verdicts as .csv (header row) or .jsonl: post_id, claim_id, verdict, "
                                          "reviewer; optional note, reviewed_at."),
    reviewer: Optional[str] = typer.Option(None, "--reviewer", envvar="CLAIMWATCH_REVIEWER",
                                           help="Reviewer for rows without a reviewer column/value."),
    data_dir: str = typer.Option("claimwatch-data", "--data-dir", help=DATA_DIR_HELP),
) -> None:
    """Record many verdicts at once. Every row is checked first: one bad row (unknown post,
    claim or verdict word, a malformed line) records nothing. Rows with an empty verdict are
    skipped, so a filled-in `review list --format csv` can be imported as it is."""
    from flows import reviews
    from flows.store import StoreError

    try:
        default = reviews.check_reviewer(reviewer) if reviewer is not None else None
        verdicts, skipped = reviews.read_verdicts(file, default)
    except reviews.ReviewError as exc:
        _fail(str(exc))
    store = _store(data_dir)
    try:
        done = reviews.record(store, verdicts)
    except reviews.ReviewError as exc:
        _fail(f"{exc}; nothing recorded")
    except StoreError as exc:
        _fail(str(exc), 1)
    parts = [f"{len(done.unchanged)} already recorded"]
    if skipped:
        parts.append(f"{skipped} rows without a verdict skipped")
    if done.unmatched:
        parts.append(f"{len(done.unmatched)} on pairs the matcher never made")
    typer.echo(f"recorded {done.written.height} verdicts from {file} ({'; '.join(parts)})")


def _three_places(col: str):
    import polars as pl

    return pl.col(col).map_elements(lambda v: f"{v:.3f}", return_dtype=pl.String).fill_null("-")


def quality_report(data_dir: Path | str, since: Optional[str], claim: Optional[List[str]], platform: Optional[List[str]],
                   label: Optional[List[str]], fmt: str, tz: str = "UTC") -> None:
    """``claimwatch report --quality``: precision of the labels as measured by reviews, per claim,
    language and platform and over all, as a table, CSV or JSON. Exit codes as `report`'s: 2 with
    one line for a bad option value (``--since`` read in ``tz``), 1 when the data cannot be used."""
    import json

    from flows import reviews
    from flows.commands.report import _records, _table, _write_csv
    from flows.store import StoreError

    try:
        store = open_store(data_dir)
    except Bad as exc:  # no dataset there: the data cannot be used
        _fail(str(exc), 1, "claimwatch report")
    try:
        labels = labels_option(label, ("likely_misinformation", "needs_review", "debunk"))
        when = since_option(since, tz)
        claims = choices(store, "--claim", "claim_id", claim)
        platforms = choices(store, "--platform", "platform", platform)
        rows = reviews.quality(store, claims=claims, platforms=platforms, labels=labels, since=when)
        no_reviews = not store.files("reviews")
    except Bad as exc:  # a bad option value
        _fail(str(exc), 2, "claimwatch report")
    except StoreError as exc:
        _fail(str(exc), 1, "claimwatch report")
    if no_reviews:
        typer.echo(f"claimwatch report: {data_dir} has no reviews yet; `claimwatch review mark` records verdicts",
                   err=True)
    out = sys.stdout
    if fmt == "json":
        json.dump({"quality": _records(rows)}, out, ensure_ascii=False, indent=2)
        out.write("\n")
        return
    if fmt == "csv":
        _write_csv(rows, out)
        return
    out.write(f"Precision as measured by reviews: confirmed / reviewed, the latest verdict per post and claim "
              f"(labels as matched: {', '.join(labels)}"
              + (f"; reviewed since {when.astimezone(ZoneInfo(tz)):%Y-%m-%d %H:%M} {tz}" if when else "") + ")\n")
    names = {"claim": "claim_id", "language": "lang", "platform": "platform", "all": "all"}
    for by, name in names.items():
        part = (rows.filter(rows["by"] == by).drop("by").rename({"value": name})
                .with_columns(_three_places("precision")))
        if by == "all":
            part = part.drop("all")
        out.write(f"\nby {by}\n" if by != "all" else "\nall reviewed\n")
        out.write(_table(part) if part.height else "  no reviewed matches with these filters\n")
