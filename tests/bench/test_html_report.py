"""report -o DIR writes DIR/index.html: one self-contained page that holds the rows' numbers and renders offline."""

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser

import pytest
from record_helpers import append_record

pytest.importorskip("plotly", reason="the HTML report needs plotly (pip install 'resgraph[plot]')")
pytest.importorskip("matplotlib", reason="the report's plots need matplotlib (pip install 'resgraph[plot]')")

from resgraph.bench.html_report import log_ticks  # noqa: E402
from resgraph.bench.report import write_report  # noqa: E402

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'
CHROMIUM = shutil.which("chromium")


def _record(spec, backend, batch, p50, status="ok", unstable=None, macs=41e6):
    return {"spec": spec, "spec_hash": "", "backend": backend, "device": "cpu", "batch": batch, "precision": "fp32",
            "status": status, "reason": None if status == "ok" else "max rel err 0.1 > 0.0001 (fp32)",
            "p10_ms": p50 * 0.95, "p50_ms": p50, "p90_ms": p50 * 1.1, "cv": 0.02, "unstable": unstable,
            "throughput": batch / (p50 / 1e3), "macs": macs, "params": 270_000, "threads": 2,
            "load_before": 0.4, "load_after": 1.3, "host": "vm1",
            "env": {"torch": "2.14.1", "cpu_model": "AMD EPYC", "device_name": "AMD EPYC", "device": "cpu"},
            "timestamp": "2026-11-25T03:00:00+00:00"}


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """A report of resnet20 (a preset: its picture is drawn), plain20 and a hostile spec name, one row unstable."""
    tmp = tmp_path_factory.mktemp("html")
    path = tmp / "results.jsonl"
    rows = [_record("resnet20", "eager", 1, 1.234567), _record("resnet20", "folded", 1, 0.61803),
            _record("plain20", "eager", 1, 3.14159, unstable="load 3.1 per CPU during the row"),
            _record(HOSTILE, "eager", 1, 12.5, macs=2e9), _record("plain20", "onnxruntime", 1, 0.2, status="mismatch")]
    for r in rows:
        append_record(path, r)
    out = tmp / "report"
    paths = write_report(path, out, formats=("svg",))
    assert out / "index.html" in paths
    return out / "index.html", rows


def _plot_data(text):
    """The traces of each figure, as plotly wrote them into the page."""
    return [json.loads(m) for m in re.findall(r"Plotly\.newPlot\(\s*\"[^\"]+\",\s*(\[.*?\]),\s*\{", text, re.S)]


class _Links(HTMLParser):
    """Every src and href attribute of the page's elements (script bodies are not elements)."""

    def __init__(self):
        super().__init__()
        self.links = []

    def handle_starttag(self, tag, attrs):
        self.links += [v or "" for k, v in attrs if k in ("src", "href")]


def test_the_page_is_one_self_contained_document(report):
    page = report[0].read_text()
    assert page.startswith("<!DOCTYPE html>") and page.count("<html") == 1
    parser = _Links()
    parser.feed(page)
    assert not [u for u in parser.links if re.match(r"\s*(https?:)?//", u)], "the page would fetch from the network"
    assert page.count("Plotly.newPlot(") == 2
    assert page.count("window.PlotlyConfig") == 1  # the plotly.js bundle is inlined once, not per figure


def test_the_plots_hold_every_measured_rows_p50(report):
    page, rows = report
    text = page.read_text()
    data = _plot_data(text)
    values = {v for fig in data for trace in fig for v in (trace.get("x") or []) + (trace.get("y") or [])
              if isinstance(v, float)}
    for r in rows:
        if r["status"] == "ok":
            assert r["p50_ms"] in values, r["spec"]
    symbols = {s for fig in data for trace in fig for s in trace.get("marker", {}).get("symbol", []) or []
               if isinstance(trace.get("marker", {}).get("symbol"), list)}
    assert "circle-open" in symbols  # the unstable row is hollow
    assert "hollow: unstable" in text


def test_record_text_is_escaped(report):
    text = report[0].read_text()
    assert HOSTILE not in text and "<img src=x" not in text and "<script>alert" not in text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in text  # the tables
    labels = [v for fig in _plot_data(text) for t in fig for v in t.get("y", []) if isinstance(v, str)]
    assert any(v.startswith('&lt;script&gt;alert("x")&lt;/script&gt;') for v in labels)  # plotly shows &lt; as <


def test_table_marks_best_and_unstable_and_pictures_the_preset(report):
    text = report[0].read_text()
    assert re.search(r'<td class="num best"[^>]*>0\.618</td>', text)  # folded beats eager for resnet20
    assert "3.142 (unstable)" in text and "(mismatch)" in text
    assert "vm1" in text and "AMD EPYC" in text and "0.4" in text and "1.3" in text
    assert '<figure class="block"><svg' in text  # resnet20 is a preset
    assert "No picture of" in text  # plain20 too, but the hostile name is not


def test_log_ticks_read_as_plain_numbers():
    ticks, text = log_ticks([0.6, 13.0])
    assert text == ["0.5", "1", "2", "5", "10", "20"]
    assert ticks[0] == pytest.approx(0.5)
    assert log_ticks([1.9, 3.2])[1] == ["1.5", "2", "2.5", "3", "3.5"]  # a narrow range: evenly spaced ticks
    assert log_ticks([2e-5, 3e7])[1][:3] == ["1e-5", "1e-4", "0.001"]  # never 1e-05 or 6e-01


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium on this machine (Debian: apt-get install chromium)")
def test_headless_chromium_renders_the_plots_without_console_errors(report):
    page = report[0]
    try:
        done = subprocess.run([CHROMIUM, "--headless", "--disable-gpu", "--no-sandbox", "--enable-logging=stderr",
                               "--v=0", "--virtual-time-budget=1000", "--dump-dom", page.as_uri()],
                              capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("chromium did not finish within 60 s")
    console = [line for line in done.stderr.splitlines() if "Uncaught" in line or "CONSOLE" in line]
    assert not console, console
    assert done.stdout.count('class="main-svg"') >= 4  # two plotly figures drawn (two layers each)
