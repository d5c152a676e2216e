"""The scale benchmark (`make bench`, issue 6) in miniature: 10k paragraphs made from the
bundled sample, a handful of questions, everything in this process. Only checks that it
runs and that its checks hold; the figures mean nothing here."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks import scale

SAMPLE_DIR = Path(__file__).resolve().parent.parent / "data" / "reports"


def test_benchmark_runs_and_its_checks_hold(tmp_path: Path) -> None:
    argv = ["--scales", "10000", "--questions", "4", "--rounds", "1", "--cold-runs", "0"]
    argv += ["--in-process", "--out", str(tmp_path), "--corpora", str(SAMPLE_DIR)]
    try:
        assert scale.main(argv) == 0
    finally:
        scale.IN_PROCESS = False
    [result] = json.loads((tmp_path / "results.json").read_text())["results"]
    assert result["build"]["paragraphs"] >= 10_000
    assert result["build"]["skipped"] == 0
    ref = result["reference"]
    assert ref["questions"] == 4 and ref["agree"] == 4  # the top 10 is rank-bm25's
    inc = result["incremental"]
    assert not inc["update_full"] and inc["stats_equal"]
    assert inc["questions_equal"] == inc["questions"]  # an update answers like a rebuild


def test_benchmark_skips_without_corpora(tmp_path: Path, capsys: object) -> None:
    assert scale.main(["--corpora", str(tmp_path / "absent"), "--out", str(tmp_path)]) == 0
    assert not (tmp_path / "results.json").exists()
