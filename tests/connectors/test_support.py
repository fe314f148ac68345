import re
from pathlib import Path

from tests.connectors.support import NO_PAYLOADS, ROOT, payloads_dir


def test_shared_payloads_are_found_beside_the_checkout():
    assert payloads_dir() == (Path(__file__).resolve().parents[2].parent / "shared" / "data" / "payloads").resolve()
    assert str(payloads_dir()) in NO_PAYLOADS and "../shared/data/payloads" in NO_PAYLOADS


def test_no_test_reads_a_fixed_workplace_path():
    fixed = re.compile(r"""["']/work/""")
    files = [*(ROOT / "tests" / "connectors").glob("*.py"), ROOT / "tests" / "flows" / "test_parse_cli.py"]
    offenders = [p.name for p in files if p.name != "test_support.py" and fixed.search(p.read_text(encoding="utf-8"))]
    assert offenders == []
