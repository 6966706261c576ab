"""Every number says where it came from: provenance in each table row, in the runs table and in
each run card, and the paper profile's section setting each protocol beside the paper's words."""

import re

from bench import profiles
from bench.report import build_report
from bench.runs import RunFolder

DIGEST = "ab" * 32


def _with_provenance(run_dir, provenance):
    RunFolder(run_dir).update_manifest(provenance=provenance)
    return run_dir


def _row(html, table, text):
    block = re.search(rf'data-table="{table}">(.*?)</table>', html, re.S).group(1)
    rows = [r for r in re.findall(r"<tr[^>]*>.*?</tr>", block, re.S) if text in r]
    assert len(rows) == 1, (table, text)
    return rows[0]


def test_rows_cards_and_protocol_section_carry_provenance(run_factory, tmp_path):
    released = _with_provenance(run_factory(tmp_path / "runs", "p-pennet-facade-released", "pennet", "facade"),
                                {"kind": "released", "format": "pennet-netG", "release": "pennet-facade",
                                 "files": {"gen_00034.pth": DIGEST}})
    trained = _with_provenance(run_factory(tmp_path / "runs", "p-srpnet-facade", "srpnet", "facade", quality=1.0),
                               {"kind": "trained", "recipe": "paper"})
    authors = _with_provenance(run_factory(tmp_path / "runs", "p-picnet-facade", "picnet", "facade"),
                               {"kind": "trained", "recipe": "authors"})
    uniform = _with_provenance(run_factory(tmp_path / "runs", "u-glcic-facade", "glcic", "facade"),
                               {"kind": "trained", "recipe": "uniform"})
    protocols = [p for p in profiles.plan("paper").protocols if p.method in ("pennet", "picnet")]
    html = build_report([released, trained, authors, uniform], tmp_path / "report", n_boot=20,
                        protocols=protocols).read_text().replace("&#39;", "'")
    short = f"released weights pennet-facade (gen_00034.pth, sha256 {DIGEST[:12]})"
    for table in ("table2", "runs"):
        assert short in _row(html, table, "p-pennet-facade-released")
        assert "trained — the paper's recipe" in _row(html, table, "p-srpnet-facade<")
        assert "trained — authors' recipe" in _row(html, table, "p-picnet-facade")
        assert "trained — uniform recipe" in _row(html, table, "u-glcic-facade")
    # the run card gives the whole sha256
    card = re.search(r'<h3>pennet \[p-pennet-facade-released\]</h3>(.*?)</div>', html, re.S).group(1)
    assert f"Provenance:</strong> released weights pennet-facade (gen_00034.pth, sha256 {DIGEST})" in card
    section = re.search(r'<section id="baselines">(.*?)</section>', html, re.S).group(1)
    pennet = _row(html, "baseline-protocols", "“We used the officially proposed pretraining model for testing.”")
    assert "facade: " + short in pennet
    assert "We utilized the code given by the author for training and testing." in section
    assert "facade: trained — authors' recipe" in _row(html, "baseline-protocols", "code given by the author")


def test_without_protocols_there_is_no_protocol_section_and_old_runs_say_so(run_factory, tmp_path):
    old = run_factory(tmp_path / "runs", "old-srpnet", "srpnet", "facade")
    html = build_report([old], tmp_path / "report", n_boot=20).read_text()
    assert 'id="baselines"' not in html
    assert "trained — recipe not recorded" in _row(html, "runs", "old-srpnet")
