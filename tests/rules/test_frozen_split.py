"""The frozen test part of the labelled posts never changes: quality figures reported on it are
only honest if nobody edits it to fit the model (tests/rules/data/README.md)."""

import hashlib
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
FROZEN = {"posts_test.jsonl": "c3ef87d843ad946ad603a47da70be7fdc2f7d7e2ca457f497b328c046ea58dbf"}


def test_the_frozen_test_part_is_byte_for_byte_what_was_committed_before_tuning():
    for name, digest in FROZEN.items():
        got = hashlib.sha256((DATA / name).read_bytes()).hexdigest()
        assert got == digest, (f"{name} changed (sha256 {got}); the test part is frozen: report a wrong "
                               "label next to the figures instead of editing the file")


def test_the_fresh_batch_shares_no_post_with_the_train_or_test_part():
    import json

    def read(name):
        return [json.loads(line) for line in (DATA / name).open(encoding="utf-8") if line.strip()]

    fresh = read("posts_fresh.jsonl")
    others = read("posts_train.jsonl") + read("labelled_posts.jsonl") + read("posts_test.jsonl")
    assert len(fresh) == len({r["post_id"] for r in fresh}) > 200
    assert not {r["post_id"] for r in fresh} & {r["post_id"] for r in others}
    assert not {r["text"] for r in fresh} & {r["text"] for r in others}
