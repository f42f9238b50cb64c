"""The training report's index.html and the probe's probe.html: curves in the plot data, panels only for the
networks the file has, record text escaped, nothing fetched."""

import json
import re

import pytest

pytest.importorskip("plotly", reason="the HTML report needs plotly (pip install 'resgraph[plot]')")
pytest.importorskip("matplotlib", reason="the report's plots need matplotlib (pip install 'resgraph[plot]')")

from resgraph import records  # noqa: E402
from resgraph.train.records import RunRecord, StepRecord  # noqa: E402
from resgraph.train.report import write_probe, write_train_report  # noqa: E402

HOSTILE = "<script>alert(1)</script>"


def _write(path, specs):
    with records.writer(path) as w:
        for i, (spec, residual) in enumerate(specs):
            run = f"run{i}"
            for step in (10, 20):
                w.append(StepRecord(run=run, spec=spec, spec_hash="", data="digits", seed=0, step=step, epoch=0,
                                    lr=0.1, train_err=0.5 / step, test_err=0.3 + i / 100 + 1 / step))
            w.append(RunRecord(run=run, spec=spec, spec_hash="", data="digits", seed=0, steps=20, batch=8,
                               final_test_err=0.35, depth=20, residual=residual, threads=1,
                               env={"torch": "2.14.1", "cpu_model": "AMD EPYC"}, timestamp="2026-11-25T05:00:00"))


def _plot_data(text):
    return [json.loads(m) for m in re.findall(r"Plotly\.newPlot\(\s*\"[^\"]+\",\s*(\[.*?\]),\s*\{", text, re.S)]


def test_train_page_holds_the_curves_and_escapes_names(tmp_path):
    path = tmp_path / "t.jsonl"
    _write(path, [("resnet20", True), (HOSTILE, True)])
    paths = write_train_report(path, tmp_path / "rep", formats=("svg",))
    page = (tmp_path / "rep" / "index.html")
    assert page in paths
    text = page.read_text()
    assert HOSTILE not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    ys = {round(y, 6) for fig in _plot_data(text) for t in fig for y in t["y"]}
    assert {round(100 * (0.3 + 1 / 10), 6), round(100 * (0.31 + 1 / 20), 6)} <= ys  # test error, in %
    assert "residual networks" in text and "plain networks" not in text  # no empty panel
    assert "AMD EPYC" in text and '<figure class="block"><svg' in text  # resnet20 is a preset


def test_probe_page(tmp_path):
    rows = [{"spec": spec, "depth": 20, "residual": res, "block": b, "scope": f"layer1.{b}", "stage": 0,
             "act_std": 0.5 * b, "grad_norm": 10.0 ** b, "grad_corr": 0.9 / b}
            for spec, res in (("plain20", False), ("resnet20", True)) for b in (1, 2, 3)]
    paths = write_probe(rows, tmp_path, formats=("svg",))
    text = (tmp_path / "probe.html").read_text()
    assert tmp_path / "probe.html" in paths
    data = _plot_data(text)
    assert {1000.0, 100.0} <= {y for fig in data for t in fig for y in t["y"]}
    assert '"dash":"dash"' in text and "plain20 (plain)" in text
