"""``claimwatch match`` (rank claims for every post) and ``claimwatch eval`` (CheckThat measures)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Optional

import typer


OUT_FORMATS = {".parquet": "write_parquet", ".csv": "write_csv", ".jsonl": "write_ndjson"}


def _fail(msg: str) -> None:
    typer.echo(f"claimwatch: {msg}", err=True)
    raise typer.Exit(2)


def read_posts(path: Path):
    """Posts from JSONL (``post_id``, ``text``; ``title``, ``transcript``, ``links``, ``video_ids``
    optional) or Parquet. Raises ValueError with a one-line message naming file and line."""
    import polars as pl

    if not path.is_file():
        raise ValueError(f"{path}: no such posts file")
    if path.suffix.lower() == ".parquet":
        try:
            df = pl.read_parquet(path)
        except Exception as exc:  # noqa: BLE001 - polars raises several kinds
            raise ValueError(f"{path}: not a readable Parquet file ({type(exc).__name__})") from None
        missing = {"post_id", "text"} - set(df.columns)
        if missing:
            raise ValueError(f"{path}: posts need columns post_id and text (missing {', '.join(sorted(missing))})")
        return df
    rows: dict[str, list[Any]] = {k: [] for k in ("post_id", "text", "title", "transcript", "links", "video_ids")}
    seen: set[str] = set()
    try:
        with path.open(encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path}:{n}: not valid JSON ({exc.msg}); one post object per line") from None
                if not isinstance(obj, dict):
                    raise ValueError(f"{path}:{n}: a post must be a JSON object with post_id and text")
                pid = obj.get("post_id")
                if isinstance(pid, int) and not isinstance(pid, bool):
                    pid = str(pid)
                if not isinstance(pid, str) or not pid:
                    raise ValueError(f"{path}:{n}: field 'post_id' missing or not a string")
                if pid in seen:
                    raise ValueError(f"{path}:{n}: duplicate post_id '{pid}'")
                seen.add(pid)
                for f in ("text", "title", "transcript"):
                    v = obj.get(f)
                    if v is not None and not isinstance(v, str):
                        raise ValueError(f"{path}:{n}: post '{pid}': field '{f}' must be a string or null")
                for f in ("links", "video_ids"):
                    v = obj.get(f)
                    if v is not None and not (isinstance(v, list) and all(isinstance(x, str) for x in v)):
                        raise ValueError(f"{path}:{n}: post '{pid}': field '{f}' must be a list of strings")
                rows["post_id"].append(pid)
                for f in ("text", "title", "transcript"):
                    rows[f].append(obj.get(f))
                for f in ("links", "video_ids"):
                    rows[f].append(obj.get(f) or [])
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise ValueError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if not rows["post_id"]:
        raise ValueError(f"{path}: no posts in the file")
    return pl.DataFrame(rows, schema={"post_id": pl.String, "text": pl.String, "title": pl.String,
                                      "transcript": pl.String, "links": pl.List(pl.String),
                                      "video_ids": pl.List(pl.String)})


def _load(claims: Optional[Path], posts: Path):
    from flows.home import claims_dir
    from rules.catalogue import CatalogueError, load_catalogue
    from rules.match import Matcher

    claims = claims_dir(claims)
    try:
        cat = load_catalogue(claims)
    except CatalogueError as exc:
        _fail(str(exc))
    try:
        df = read_posts(posts)
    except ValueError as exc:
        _fail(str(exc))
    matcher = Matcher(cat)
    groups = matcher.duplicate_groups()
    n_groups = len(set(groups.values()))
    print(f"catalogue {claims}: {len(cat)} claims (version {cat.version}); {n_groups} duplicate groups "
          f"({len(groups) - n_groups} later copies ranked right below the first in catalogue order); "
          f"{df.height} posts", file=sys.stderr)
    return matcher, df


def register(app: typer.Typer) -> None:
    @app.command("match")
    def match_cmd(
        claims: Optional[Path] = typer.Option(None, "--claims", help="catalogue: claims folder, .yaml or .jsonl (default: $CLAIMWATCH_HOME/claims if it exists, else the shipped rules/claims)"),
        posts: Path = typer.Option(..., "--posts", help="posts .jsonl (post_id, text, ...) or .parquet"),
        top_k: int = typer.Option(10, "--top-k", min=1, help="claims kept per post"),
        out: Path = typer.Option(..., "--out", help="output .parquet, .csv or .jsonl: post_id, claim_id, score, rank"),
    ) -> None:
        """Rank the catalogue's claims for every post and write the top K (rank 1 = best).

        Every post gets rows, also one the index finds no candidate for (empty, emoji only,
        unknown words): those are ranked by character 4-gram similarity, with low scores."""
        import os

        from rules.match import progress_printer

        fmt = OUT_FORMATS.get(out.suffix.lower())
        if fmt is None:
            _fail(f"{out}: unknown output format '{out.suffix or '(no suffix)'}'; use a .parquet, .csv or .jsonl file")
        matcher, df = _load(claims, posts)
        ranked = matcher.rank(df, top_k=top_k, progress=progress_printer("matching"))
        tmp = out.with_name(f".{out.name}.tmp")
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            getattr(ranked, fmt)(tmp)
            os.replace(tmp, out)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            _fail(f"{out}: cannot write ({exc.strerror or exc})")
        print(f"wrote {ranked.height} rows for {ranked['post_id'].n_unique()} posts to {out}", file=sys.stderr)

    @app.command("eval")
    def eval_cmd(
        claims: Optional[Path] = typer.Option(None, "--claims", help="catalogue: claims folder, .yaml or .jsonl (default: $CLAIMWATCH_HOME/claims if it exists, else the shipped rules/claims)"),
        posts: Path = typer.Option(..., "--posts", help="posts .jsonl or .parquet"),
        qrels: Path = typer.Option(..., "--qrels", help="post_id<TAB>claim_id relevance pairs"),
    ) -> None:
        """Print MAP@1/3/5, Recall@1/5/10 and MRR (CheckThat! 2020 definitions)."""
        from rules.evaluate import QrelsError, evaluate, load_qrels
        from rules.match import progress_printer

        try:
            gold = load_qrels(qrels)
        except QrelsError as exc:
            _fail(str(exc))
        matcher, df = _load(claims, posts)
        post_ids = set(df.get_column("post_id").to_list())
        known = {pid: rel for pid, rel in gold.items() if pid in post_ids}
        if not known:
            _fail(f"no post of {qrels} is in {posts} ({len(gold)} qrels posts); "
                  "check that the qrels belong to this posts file")
        matchable = set(matcher.claim_ids)
        n_claims = sum(1 for rel in gold.values() for c in rel if c not in matchable)
        if len(known) < len(gold) or n_claims:
            print(f"warning: {len(gold) - len(known)} of {len(gold)} qrels posts are not in {posts} "
                  f"(left out of the measures); {n_claims} qrels claim ids are not in {claims} or retired "
                  "(those pairs count as not found)", file=sys.stderr)
        ranked = matcher.rank(df.filter(df["post_id"].is_in(list(known))), top_k=1000,
                              progress=progress_printer("ranking"))
        res = evaluate(ranked, known)
        for k, v in res.items():
            typer.echo(f"{k}\t{v:.4f}")
