"""``claimwatch claims list|show|approve|retire|import|add-media``: look after the claim catalogue."""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any, List, Optional

import typer

DEFAULT_CLAIMS_DIR = Path(__file__).resolve().parents[2] / "rules" / "claims"  # the shipped catalogue
CLAIMS_DIR_HELP = ("Claim catalogue folder, as in `claimwatch run --claims` (default: $CLAIMWATCH_HOME/claims "
                   "if it exists, else the shipped rules/claims).")
_ID = re.compile(r"^[a-z0-9-]+$")


def _old_option_names(name: str) -> str:
    return "claims" if name == "claims-dir" else name  # --claims-dir, the option's earlier name, still works


claims_app = typer.Typer(help="List, show, approve, retire and import claims of the catalogue; add known media.\n\n"
                              "Exit codes: 0 done; 1 the data cannot be used or written (a claim file that "
                              "cannot be changed, a file to import that cannot be read or holds no claims, "
                              "an approval without a fact-check); 2 a bad input or usage (an unknown option "
                              "or claim id, a claim in the wrong status for the command, a broken "
                              "catalogue, a catalogue inside the installed package: run `claimwatch init`).",
                         no_args_is_help=True, add_completion=False,
                         context_settings={"token_normalize_func": _old_option_names})


def register(app: typer.Typer) -> None:
    app.add_typer(claims_app, name="claims")


class Failure(Exception):
    """A one-line problem for stderr, with the exit status."""

    def __init__(self, message: str, code: int = 1):
        super().__init__(message)
        self.code = code


def _fail(exc: Exception) -> None:
    code = getattr(exc, "code", 2)
    print(f"claimwatch claims: {exc}", file=sys.stderr)
    raise typer.Exit(code)


def _catalogue(claims_dir: Path):
    from rules.catalogue import CatalogueError, load_catalogue

    try:
        return load_catalogue(claims_dir)
    except CatalogueError as exc:
        raise Failure(f"{exc}", 2) from None


def _dir_option() -> Any:
    return typer.Option(None, "--claims", help=CLAIMS_DIR_HELP, show_default=False)


def _resolve(claims_dir: Optional[Path]) -> Path:
    from flows.home import claims_dir as resolve

    return resolve(claims_dir)


def _writable(claims_dir: Path) -> None:
    from flows.home import HomeError, check_writable

    try:
        check_writable(claims_dir)
    except HomeError as exc:
        raise Failure(str(exc), 2) from None


@claims_app.command("list")
def list_claims(
    claims_dir: Path = _dir_option(),
    status: Optional[str] = typer.Option(None, help="Only claims with this status: active, imported, retired."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per line instead of a table."),
) -> None:
    """List the catalogue: id, status, verdict, title."""
    claims_dir = _resolve(claims_dir)
    try:
        if status is not None and status not in ("active", "imported", "retired"):
            raise Failure(f"--status must be active, imported or retired (got {status!r})", 2)
        claims = [c for c in _catalogue(claims_dir) if status is None or c.status == status]
    except Failure as exc:
        _fail(exc)
    claims.sort(key=lambda c: ({"active": 0, "imported": 1, "retired": 2}.get(c.status, 3), c.claim_id))
    if as_json:
        for c in claims:
            print(json.dumps({"claim_id": c.claim_id, "status": c.status, "verdict": c.verdict, "title": c.title},
                             ensure_ascii=False))
        return
    rows = [("ID", "STATUS", "VERDICT", "TITLE")] + [
        (c.claim_id, c.status, c.verdict or "-", c.title or c.text[:80]) for c in claims]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for r in rows:
        print(f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]}")
    if not claims:
        print("(no claims" + (f" with status {status}" if status else "") + ")")


@claims_app.command("show")
def show(claim_id: str = typer.Argument(..., help="The claim's id."), claims_dir: Path = _dir_option()) -> None:
    """Show one claim: its file and every field."""
    import yaml

    from rules.catalogue import CatalogueError, find_claim_file

    claims_dir = _resolve(claims_dir)
    try:
        claim = _get(claims_dir, claim_id)
        try:
            where = find_claim_file(claims_dir, claim_id)
        except CatalogueError:
            where = Path(claim.origin)
    except Failure as exc:
        _fail(exc)
    print(f"# {where}")
    print(yaml.safe_dump(claim.content(), sort_keys=False, allow_unicode=True, width=100).rstrip())


def _get(claims_dir: Path, claim_id: str):
    from rules.catalogue import CatalogueError

    cat = _catalogue(claims_dir)
    try:
        return cat.get(claim_id)
    except CatalogueError as exc:
        raise Failure(f"{exc}; `claimwatch claims list` shows the ids", 2) from None


def _set(claims_dir: Path, claim_id: str, status: str) -> Path:
    from rules.catalogue import CatalogueError, find_claim_file, set_status

    try:
        path = find_claim_file(claims_dir, claim_id)
        if path.suffix.lower() not in (".yaml", ".yml"):
            raise Failure(f"{claim_id} comes from {path}; change its status there", 2)
        return set_status(path, status, claim_id)
    except CatalogueError as exc:
        raise Failure(str(exc), 1) from None


@claims_app.command("approve")
def approve(claim_id: str = typer.Argument(..., help="The imported claim's id."),
            claims_dir: Path = _dir_option()) -> None:
    """Approve an imported claim: its status becomes active and posts can be flagged for it.

    A claim rated true or mostly true, or without a verdict, is refused (exit 2, nothing changed);
    one rated mixture, unproven or satire is approved but its matches stay at most needs_review."""
    from rules.verdicts import TRUE_VERDICTS

    claims_dir = _resolve(claims_dir)
    try:
        _writable(claims_dir)
        claim = _get(claims_dir, claim_id)
        if claim.status != "imported":
            raise Failure(f"claim '{claim_id}' is {claim.status}; only imported claims are approved "
                          "(a retired claim is brought back by editing its file)", 2)
        if claim.verdict in TRUE_VERDICTS:
            _check_verdict(claim)
        if not claim.fact_checks:
            raise Failure(f"claim '{claim_id}' has no fact_checks; add the fact-check that debunks it "
                          "to its file before approving", 1)
        _check_verdict(claim)
        path = _set(claims_dir, claim_id, "active")
    except Failure as exc:
        _fail(exc)
    from rules.verdicts import REVIEW_ONLY, describe

    note = f"; rated {describe(claim.verdict)}, so its matches are at most needs_review" if claim.verdict in REVIEW_ONLY else ""
    print(f"approved {claim_id} ({path}){note}")


def _check_verdict(claim) -> None:
    """Refuse to approve a claim rated true or mostly true, or one without a verdict (exit 2)."""
    from rules.verdicts import FLAGGABLE, REVIEW_ONLY, TRUE_VERDICTS, describe

    rating = next((fc.get("rating") for fc in claim.fact_checks if fc.get("rating")), None)
    said = f" (publisher's rating \"{rating}\")" if rating else ""
    if claim.verdict in TRUE_VERDICTS:
        raise Failure(f"claim '{claim.claim_id}' is rated {describe(claim.verdict)}{said}; a true claim is "
                      "never approved: posts stating it are not misinformation (retire it or leave it imported)", 2)
    if claim.verdict is None:
        raise Failure(f"claim '{claim.claim_id}' has no verdict{said}; set `verdict:` in its file to one of "
                      f"{', '.join(sorted(FLAGGABLE))} (or {', '.join(sorted(REVIEW_ONLY))} to match for review "
                      "only) before approving", 2)


@claims_app.command("retire")
def retire(claim_id: str = typer.Argument(..., help="The claim's id."), claims_dir: Path = _dir_option()) -> None:
    """Retire a claim: it is kept in the catalogue but never matched again."""
    claims_dir = _resolve(claims_dir)
    try:
        _writable(claims_dir)
        claim = _get(claims_dir, claim_id)
        if claim.status == "retired":
            print(f"{claim_id} is already retired")
            return
        path = _set(claims_dir, claim_id, "retired")
    except Failure as exc:
        _fail(exc)
    print(f"retired {claim_id} ({path})")


@claims_app.command("import")
def import_claims(
    files: List[Path] = typer.Argument(..., help="ClaimReview rows as JSONL (from `claimwatch parse claimreview`) "
                                                 "or fact-check HTML pages."),
    claims_dir: Path = _dir_option(),
    url: Optional[str] = typer.Option(None, help="The page's URL, when a saved page does not name it."),
) -> None:
    """Import ClaimReview claims as <catalogue>/imported/<id>.yaml with status imported.

    Claims already in the catalogue are left as they are. Approve each one after checking it."""
    written = skipped = failed = 0
    bad_path = False
    claims_dir = _resolve(claims_dir)
    try:
        _writable(claims_dir)
        existing = {c.claim_id for c in _catalogue(claims_dir)} if _has_claims(claims_dir) else set()
    except Failure as exc:
        _fail(exc)
    existing_digest = {_digest(c): c for c in existing if _digest(c)}
    target = claims_dir / "imported"
    for f in files:
        if not f.exists() and str(f) != "-":
            failed += 1
            bad_path = True
            print(f"{f}: no such file; give a ClaimReview JSONL file or a saved fact-check page", file=sys.stderr)
            continue
        try:
            rows = _rows_from(f, url)
        except Failure as exc:
            failed += 1
            print(f"{f}: {exc}", file=sys.stderr)
            continue
        for where, row in rows:
            try:
                claim = claim_yaml(row)
            except Failure as exc:
                failed += 1
                print(f"{where}: {exc}", file=sys.stderr)
                continue
            cid = claim["claim_id"]
            same = existing_digest.get(_digest(cid)) if _digest(cid) else None
            if cid in existing or same:
                skipped += 1
                print(f"{cid}: already in the catalogue" + (f" as {same}" if same and same != cid else "")
                      + "; left as it is")
                continue
            try:
                path = _write_claim(target, claim)
            except Failure as exc:
                failed += 1
                print(f"{where}: {exc}", file=sys.stderr)
                continue
            existing.add(cid)
            if _digest(cid):
                existing_digest[_digest(cid)] = cid
            written += 1
            print(f"imported {cid} ({path})")
    print(f"{written} imported, {skipped} already present, {failed} failed")
    if failed:
        raise typer.Exit(2 if bad_path else 1)


_DIGEST = re.compile(r"^cr-(?:[a-z0-9-]+-)?([0-9a-f]{10})$")


def _digest(claim_id: str) -> str | None:
    """The review digits of an imported claim's id (``cr-...-<10 hex>``): the same review keeps
    them whatever words the id was given, so a re-import finds a claim imported under an older id."""
    m = _DIGEST.match(claim_id)
    return m.group(1) if m else None


@claims_app.command("add-media")
def add_media(
    claim_id: str = typer.Argument(..., help="The claim's id."),
    file_or_url: str = typer.Argument(..., help="A copy of the clip, a thumbnail or a keyframe: a local file "
                                                "(MP4, WebM, MPEG-TS, JPEG, PNG, WebP, GIF) or an http(s) URL. "
                                                "A YouTube link adds its id and fingerprints its thumbnail."),
    claims_dir: Path = _dir_option(),
    algorithm: str = typer.Option("phash", help="Hash algorithm: phash (64 bits, the default) or pdq (256 bits); "
                                                "the media step's [media] algorithm must be the same."),
    note: Optional[str] = typer.Option(None, help="A note kept with the fingerprint (where the copy was found)."),
    max_mb: int = typer.Option(200, "--max-mb", help="Largest download accepted, in MB."),
    allow_private_links: bool = typer.Option(False, help="Allow a URL on a private or loopback address."),
) -> None:
    """Fingerprint a copy of a claim's media and add it to the claim's known_media.

    Videos are hashed at every frame up to 30 per second (near-identical neighbours dropped), pictures
    once; each frame is hashed whole and as a few crops (5% and 10% off every side, 5% and 10% off two
    adjacent sides) so cropped re-uploads meet it. The claim file gets the hashes, their frame times,
    regions and qualities and where they came from. Posts whose pictures or videos match them are then
    flagged through media evidence."""
    from datetime import date

    from connectors.errors import ConnectorError
    from rules.catalogue import CatalogueError, add_known_media, find_claim_file

    try:
        if algorithm not in ("pdq", "phash"):
            raise Failure(f"--algorithm must be pdq or phash (got {algorithm!r})", 2)
        claim = _get(claims_dir, claim_id)
        try:
            path = find_claim_file(claims_dir, claim_id)
        except CatalogueError as exc:
            raise Failure(str(exc), 1) from None
        extra: list[str] = []
        try:
            fp, source = _fingerprint_source(file_or_url, algorithm, max_mb, allow_private_links, extra)
        except ConnectorError as exc:
            raise Failure(f"{exc}", 1) from None
        if any(f.sha256 == fp.sha256 and f.algorithm == algorithm for f in claim.fingerprints):
            print(f"{source} is already a known copy of {claim_id} ({path}); nothing added")
            return
        entry = {"algorithm": algorithm, "kind": fp.kind, "source": source, "sha256": fp.sha256,
                 "added": date.today().isoformat()}
        if fp.kind == "video":
            entry["duration_s"] = fp.duration_s
        if note:
            entry["note"] = note
        entry.update(hashes=fp.hashes, frame_times=fp.frame_times, quality=fp.quality, regions=fp.regions)
        extra = [x for x in extra if x not in claim.known_media]
        try:
            add_known_media(path, claim_id, extra + [entry])
        except CatalogueError as exc:
            raise Failure(str(exc), 1) from None
    except Failure as exc:
        _fail(exc)
    usable = len({t for t, q in zip(fp.frame_times, fp.quality) if q >= 50})
    frames = len(set(fp.frame_times))
    what = (f"{frames} frames over {fp.duration_s:g} s" if fp.kind == "video" else "1 frame")
    what += f", {len(fp.hashes)} hashes with their crops"
    print(f"added {algorithm} fingerprint of {source} ({fp.kind}, {what}, {usable} of quality >= 50) to "
          f"{claim_id} as known copy {len(claim.fingerprints) + 1} ({path})"
          + (f"; also added {', '.join(extra)}" if extra else ""))
    if fp.truncated:
        print(f"note: only the first {fp.duration_s:g} s were fingerprinted (a duration or frame cap)")
    if not usable:
        print("warning: no frame has quality >= 50 (flat or dark pictures); this copy will match nothing",
              file=sys.stderr)


def _fingerprint_source(file_or_url: str, algorithm: str, max_mb: int, allow_private: bool,
                        extra: list[str]) -> tuple[Any, str]:
    """``(Fingerprint, source)`` of a local file or a URL (downloaded with the hardened client)."""
    from connectors.errors import ParseError
    from connectors.fingerprint import CATALOGUE_LIMITS, fingerprint_bytes, fingerprint_file
    from connectors.urls import youtube_id

    local = Path(file_or_url)
    if local.exists() or not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", file_or_url):
        if not local.is_file():
            raise Failure(f"{file_or_url}: no such file (give a file or an http(s) URL)", 1)
        return fingerprint_file(local, algorithm=algorithm, limits=CATALOGUE_LIMITS), local.name
    from connectors.http import HttpClient, HttpSettings

    url = file_or_url
    vid = youtube_id(url)
    if vid:  # never through YouTube's player: its id, and its thumbnail
        extra.append(f"youtube:{vid}")
        url = f"https://i.ytimg.com/vi/{vid}/hqdefault.jpg"
    settings = HttpSettings(max_bytes=max_mb * 1024 * 1024, allow_private=allow_private, total_timeout=600.0)
    with HttpClient(settings) as client:
        client.check_url(url)
        resp = client.get(url)
    ctype = resp.content_type
    if ctype and not ctype.startswith(("image/", "video/", "application/octet-stream", "binary/")):
        raise ParseError(f"{url}: the server sent {ctype}, not a picture or a video; give the media file's own URL")
    return fingerprint_bytes(resp.content, what=url, algorithm=algorithm, limits=CATALOGUE_LIMITS), url


def _has_claims(claims_dir: Path) -> bool:
    return claims_dir.is_dir() and any(p.suffix.lower() in (".yaml", ".yml", ".jsonl")
                                       for p in claims_dir.rglob("*") if p.is_file())


def _rows_from(path: Path, url: str | None) -> list[tuple[str, dict[str, Any]]]:
    from connectors.errors import ConnectorError
    from flows.commands.parse import read_input

    try:
        data = read_input(str(path))
    except ConnectorError as exc:
        raise Failure(str(exc)) from None
    head = data.lstrip()[:1]
    if path.suffix.lower() in (".jsonl", ".json", ".ndjson") or head in (b"{",) and b"\n{" in data:
        rows = []
        for n, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as exc:
                raise Failure(f"line {n}: not valid JSON ({exc}); one claim object per line") from None
            if not isinstance(row, dict):
                raise Failure(f"line {n}: expected a JSON object per line")
            rows.append((f"{path}:{n}", row))
        if not rows:
            raise Failure("no claims in the file")
        return rows
    from connectors import claimreview

    try:
        rows = claimreview.parse(data, url=url)
    except ConnectorError as exc:
        raise Failure(str(exc)) from None
    if not rows:
        raise Failure("no ClaimReview markup on the page; nothing to import")
    return [(str(path), r) for r in rows]


_YAML_FIELDS = ("claim_id", "status", "title", "text", "variants", "verdict", "media_category",
                "required_entities", "known_media", "fact_checks", "debunk_note", "region", "lang", "source")


def claim_yaml(row: dict[str, Any]) -> dict[str, Any]:
    """A claim mapping in the catalogue's YAML format from a ClaimReview (or JSONL catalogue) row."""
    cid = row.get("claim_id")
    if not isinstance(cid, str) or not _ID.match(cid):
        raise Failure(f"claim_id {cid!r} must match [a-z0-9-]+ to be a claim file name")
    text = row.get("text") if isinstance(row.get("text"), str) else None
    title = row.get("title") if isinstance(row.get("title"), str) else None
    if title:
        from connectors.claimreview import clean_title

        title = clean_title(title, row.get("publisher") if isinstance(row.get("publisher"), str) else None)
    if not (text or title):
        raise Failure(f"claim '{cid}' has no text and no title")
    fact_checks = [fc for fc in row.get("fact_checks") or [] if isinstance(fc, dict) and fc.get("url")]
    known = {fc["url"] for fc in fact_checks}
    for u in row.get("fact_check_urls") or []:
        if isinstance(u, str) and u not in known:
            fact_checks.append({"url": u})
    fact_checks = [{k: v for k, v in fc.items() if v is not None} for fc in fact_checks]
    from flows.claimrows import with_verdict

    row = with_verdict(row)
    note = None
    if row.get("rating") and row.get("publisher"):
        note = f"Rated \"{row['rating']}\" by {row['publisher']}."
    claim = {
        "claim_id": cid,
        "status": "imported",
        "title": title,
        "text": text or title,
        "variants": [v for v in row.get("variants") or [] if isinstance(v, str)],
        "verdict": row.get("verdict") if isinstance(row.get("verdict"), str) else None,
        "media_category": row.get("media_category") if isinstance(row.get("media_category"), str) else None,
        "required_entities": row.get("required_entities") or [],
        "known_media": [m for m in row.get("known_media") or [] if isinstance(m, str)],
        "fact_checks": fact_checks,
        "debunk_note": row.get("debunk_note") if isinstance(row.get("debunk_note"), str) else note,
        "region": row.get("region") or [],
        "lang": row.get("lang") if isinstance(row.get("lang"), str) else None,
        "source": (f"claimreview: {row['url']}" if row.get("url") else row.get("source")) or None,
    }
    return {k: claim[k] for k in _YAML_FIELDS if claim[k] is not None}


def _write_claim(folder: Path, claim: dict[str, Any]) -> Path:
    import yaml

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{claim['claim_id']}.yaml"
    if path.exists():
        raise Failure(f"{path} exists already; left as it is")
    text = yaml.safe_dump(claim, sort_keys=False, allow_unicode=True, width=100)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=str(folder))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        _validate(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def _validate(tmp: Path) -> None:
    """Check the claim file with the catalogue's own rules before it takes its name."""
    import shutil

    from rules.catalogue import CatalogueError, load_catalogue

    check_dir = Path(tempfile.mkdtemp(prefix="claimwatch-check-"))
    try:
        shutil.copyfile(tmp, check_dir / "claim.yaml")
        load_catalogue(check_dir / "claim.yaml")
    except CatalogueError as exc:
        raise Failure(str(exc).replace(str(check_dir / "claim.yaml"), "claim")) from None
    finally:
        shutil.rmtree(check_dir, ignore_errors=True)
