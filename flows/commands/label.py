"""``claimwatch label``: the matches rows a run would write for a batch of posts, without
Prefect and without a data dir.

Same matcher, same ``[matching]`` settings (the defaults, a sources file's table, ``--set``
overrides) and, when ``--data-dir`` names a dataset with reviews, the same reviewer feedback a run
of that data dir uses. Nothing here imports Prefect (a test holds it to that). Exit codes: 0
written, 2 a bad input (one line, nothing written).
"""

from __future__ import annotations

import os
import sys
import tomllib
from pathlib import Path
from typing import Any, List, Optional

import typer

from flows.commands.match import OUT_FORMATS, read_posts


def _fail(msg: str) -> None:
    typer.echo(f"claimwatch label: {msg}", err=True)
    raise typer.Exit(2)


def parse_set(items: List[str] | None) -> dict[str, Any]:
    """``["flag_threshold=70", "mentions_label=needs_review"]`` -> a ``[matching]`` mapping; values
    are read as TOML (numbers, booleans, quoted strings), a bare word as a string."""
    out: dict[str, Any] = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key or not value:
            raise ValueError(f"--set {item!r}: write key=value, e.g. --set flag_threshold=70")
        try:
            out[key] = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            out[key] = value
    return out


def matching_settings(sources: Path | None, overrides: dict[str, Any]) -> dict[str, Any]:
    """The ``[matching]`` table a run with ``sources`` would use, with ``overrides`` on top;
    raises ValueError with one line when the file or a value is bad."""
    from connectors.errors import ConfigError
    from rules.config import MatchConfig

    matching: dict[str, Any] = {}
    if sources is not None:
        from flows.config import load_config

        try:
            matching = dict(load_config(sources).matching)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
    matching.update(overrides)
    try:
        MatchConfig.from_mapping(matching)
    except ValueError as exc:
        msg = str(exc)
        raise ValueError(msg if msg.startswith("[matching]") else f"[matching] {msg}") from None
    return matching


def register(app: typer.Typer) -> None:
    app.command("label")(label)


def label(
    posts: Path = typer.Option(..., "--posts", help="Posts .jsonl (post_id, text; title, transcript, links, video_ids optional) or .parquet."),
    out: Path = typer.Option(..., "--out", help="Output .parquet, .csv or .jsonl: the matches rows."),
    claims: Optional[Path] = typer.Option(None, "--claims", help="Claim catalogue: folder, .yaml or .jsonl (default: the one `claimwatch run` uses)."),
    sources: Optional[Path] = typer.Option(None, "--sources", help="Take the [matching] settings of this sources file, as its runs do."),
    set_: Optional[List[str]] = typer.Option(None, "--set", help="A [matching] setting, e.g. --set flag_threshold=70 (repeatable; wins over --sources)."),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help="Use the reviewers' verdicts of this dataset as a run of it does."),
) -> None:
    """Label a batch of posts as a run would: claim, score, stance, label and evidence per post
    (the best claims per post above the reporting floor; posts that match nothing get no row)."""
    from flows.config import CLAIMS_DIR
    from rules.catalogue import CatalogueError, load_catalogue

    fmt = OUT_FORMATS.get(out.suffix.lower())
    if fmt is None:
        _fail(f"{out}: unknown output format '{out.suffix or '(no suffix)'}'; use a .parquet, .csv or .jsonl file")
    try:
        matching = matching_settings(sources, parse_set(set_))
    except ValueError as exc:
        _fail(str(exc))
    claims_path = claims or CLAIMS_DIR
    try:
        catalogue = load_catalogue(claims_path)
    except CatalogueError as exc:
        _fail(str(exc))
    try:
        frame = read_posts(posts)
    except ValueError as exc:
        _fail(str(exc))
    feedback = None
    if data_dir is not None:
        feedback = _feedback(data_dir)
    from rules.match import progress_printer

    from flows.reviews import build_matcher

    matcher = build_matcher(catalogue, matching, feedback)
    rows = matcher.match(frame, progress=progress_printer("labelling") if frame.height > 2000 else None)
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        getattr(rows, fmt)(tmp)
        os.replace(tmp, out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        _fail(f"{out}: cannot write ({exc.strerror or exc})")
    counts = dict(rows.group_by("label").len().iter_rows()) if rows.height else {}
    shown = ", ".join(f"{k} {counts[k]}" for k in ("likely_misinformation", "needs_review", "debunk", "no_flag") if k in counts)
    examples = "" if feedback is None else f"; {feedback.height} reviewed examples from {data_dir}"
    print(f"labelled {frame.height} posts against {claims_path} (catalogue {matcher.catalogue_version}{examples}): "
          f"{rows.height} rows ({shown or 'no matches'}) written to {out}", file=sys.stderr)


def _feedback(data_dir: Path) -> Any:
    from flows import reviews
    from flows.store import Store, StoreError

    if not data_dir.is_dir():
        _fail(f"--data-dir {data_dir}: no such data dir; give the --data-dir of `claimwatch run`, or leave it out")
    try:
        fb = reviews.feedback(Store(data_dir))
    except StoreError as exc:
        _fail(str(exc))
    if fb.is_empty():
        print(f"claimwatch label: no reviews in {data_dir}; labelling without reviewer feedback", file=sys.stderr)
    return fb
