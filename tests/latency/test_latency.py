"""The latency model: segments of a network, a profile timed here, predictions and what they refuse."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from resgraph.cli.main import main
from resgraph.graph import compile_spec
from resgraph.latency.segments import network_segments, segment_graph
from resgraph.spec import load_spec

FAST = ["--warmup", "1", "--iters", "3", "--min-time", "0", "--threads", "1"]


def test_segments_partition_the_network_and_repeat_where_blocks_repeat():
    g = compile_spec(load_spec("resnet50"))
    segs = network_segments(g)
    assert len(segs) == 18 and len({s.signature for s in segs}) == 10  # stem, 16 blocks, head
    assert sum(s.macs for s in segs) == 4_089_184_256 and sum(s.params for s in segs) == 25_557_032
    assert [s.part for s in segs[:2]] == ["stem", "block"] and segs[-1].part == "head"
    assert segs[2].signature == segs[3].signature != segs[1].signature  # layer1.1 is layer1.2; layer1.0 projects
    assert segs[1].kind == "block:bottleneck/B" and segs[2].kind == "block:bottleneck/identity"


def test_a_segment_lowers_on_its_own_to_its_shapes():
    import torch

    from resgraph.lower import build_model

    g = compile_spec(load_spec("resnet20"))
    for seg in network_segments(g)[:5]:
        out = build_model(segment_graph(g, seg), seed=0).eval()(torch.randn(2, *seg.input_shape))
        assert out.shape[1] == seg.c_out


@pytest.fixture(scope="module")
def profile(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("profile")
    space = folder / "space.yaml"
    space.write_text("presets: false\nspecs: [resnet20, resnet32]\nsamples: 2\nseed: 3\n"
                     "calibration: [resnet20, resnet32]\ncalibration_samples: 0\n")
    out = folder / "p.jsonl"
    res = CliRunner().invoke(main, ["profile", "--space", str(space), "-o", str(out), *FAST])
    assert res.exit_code == 0, res.output
    return out


def _predict(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(main, ["predict", *args])
    return res.exit_code, res.output


def test_profile_file_names_what_it_timed_where(profile):
    lines = [json.loads(line) for line in profile.read_text().splitlines()]
    head = lines[0]
    assert head["record"] == "profile" and head["backend"] == "eager" and head["batch"] == 1 and head["threads"] == 1
    assert head["host"] and head["device_model"] and "torch" in head["versions"]
    segs = [r for r in lines if r["record"] == "segment"]
    assert len({r["signature"] for r in segs}) == len(segs) >= 10
    assert all(r["p50_ms"] > 0 and r["attempts"] >= 1 for r in segs)
    assert {r["spec"] for r in lines if r["record"] == "network"} == {"resnet20", "resnet32"}


def test_predictions_add_up_block_by_block(profile):
    code, out = _predict("resnet20", "resnet44", "resnet56", "resnet110", "--profile", str(profile), "--json")
    assert code == 0, out
    p = {d["spec"]: d for d in map(json.loads, out.splitlines())}
    assert all(d["regressed_segments"] == 0 and d["low_ms"] <= d["p50_ms"] <= d["high_ms"] for d in p.values())
    # Each step from 20 to 56 layers adds the same timed blocks: the predictions step evenly.
    step = p["resnet44"]["p50_ms"] - p["resnet20"]["p50_ms"]
    assert p["resnet56"]["p50_ms"] - p["resnet44"]["p50_ms"] == pytest.approx(step / 2, abs=1e-3)
    assert p["resnet110"]["p50_ms"] > p["resnet56"]["p50_ms"] > 0
    assert sum(p["resnet56"]["stages"].values()) == pytest.approx(p["resnet56"]["p50_ms"], abs=1e-3)
    assert len(p["resnet56"]["blocks"]) == 2 + 27
    scopes = [b["scope"] for b in p["resnet56"]["blocks"]]
    assert len(set(scopes)) == len(scopes) and scopes[1:4] == ["layer1.0", "layer1.1", "layer1.2"]


def test_an_unmeasured_width_is_regressed_not_refused(profile, tmp_path):
    wide = tmp_path / "wide.yaml"
    wide.write_text("extends: resnet20\nname: resnet20_w3\nstem: {type: cifar, width: 40}\n"
                    "stages: [{width: 40}, {width: 80}, {width: 160}]\n")
    code, out = _predict(str(wide), "--profile", str(profile), "--json")
    assert code == 0, out
    d = json.loads(out)
    assert d["regressed_segments"] > 0 and d["p50_ms"] > 0 and d["high_ms"] > d["low_ms"]


def test_what_the_profile_does_not_cover_is_refused_in_one_line(profile, tmp_path):
    code, out = _predict("resnet20", "--profile", str(profile), "--batch", "8")
    assert code == 2 and "profiled with batch 1, not 8" in out
    code, out = _predict("resnet20", "--profile", str(profile), "--backend", "onnxruntime")
    assert code == 2 and "profiled with backend 'eager', not 'onnxruntime'" in out
    code, out = _predict("seresnet50", "--profile", str(profile))
    assert code == 2 and "never timed" in out and "attention=se" in out
    lines = profile.read_text().splitlines()
    head = json.loads(lines[0])
    other = tmp_path / "other.jsonl"
    other.write_text("\n".join([json.dumps({**head, "host": "elsewhere"}), *lines[1:]]) + "\n")
    code, out = _predict("resnet20", "--profile", str(other))
    assert code == 2 and "made on another machine (host 'elsewhere' there" in out
    code, out = _predict("resnet20", "--profile", str(other), "--any-machine")
    assert code == 0 and "warning:" in out
    code, out = _predict("resnet20", "--profile", str(tmp_path / "none.jsonl"))
    assert code == 2 and "no such profile" in out


def test_resume_times_only_what_is_missing_and_refuses_other_settings(profile, tmp_path):
    out = tmp_path / "p.jsonl"
    out.write_text(profile.read_text())
    before = len(out.read_text().splitlines())
    space = tmp_path / "space.yaml"
    space.write_text("presets: false\nspecs: [resnet20, resnet32, resnet110]\nsamples: 2\nseed: 3\n"
                     "calibration: [resnet20, resnet32]\ncalibration_samples: 0\n")
    res = CliRunner().invoke(main, ["profile", "--space", str(space), "-o", str(out), "--resume", *FAST])
    assert res.exit_code == 0, res.output
    assert len(out.read_text().splitlines()) == before  # resnet110's segments are resnet20's and resnet32's
    res = CliRunner().invoke(main, ["profile", "--space", str(space), "-o", str(out), "--resume", "--batch", "2",
                                    *FAST])
    assert res.exit_code == 2 and "other settings (batch 1 there, 2 here)" in res.output
    res = CliRunner().invoke(main, ["profile", "--space", str(space), "-o", str(out), *FAST])
    assert res.exit_code == 2 and "--resume continues it" in res.output


def test_resume_refuses_other_timing_settings_and_counts_are_ints(profile, tmp_path):
    from resgraph.latency.profile import read_profile

    out = tmp_path / "p.jsonl"
    out.write_text(profile.read_text())
    space = tmp_path / "space.yaml"
    space.write_text("presets: false\nspecs: [resnet20]\nsamples: 0\ncalibration: []\ncalibration_samples: 0\n")
    more = [*FAST[:3], "5", *FAST[4:]]  # --iters 5, not 3
    res = CliRunner().invoke(main, ["profile", "--space", str(space), "-o", str(out), "--resume", *more])
    assert res.exit_code == 2 and "other settings (--iters 3 there, 5 here)" in res.output, res.output
    head = json.loads(profile.read_text().splitlines()[0])
    assert head["timing"] == {"warmup": 1, "iters": 3, "min_time_s": 0.0}
    assert all(type(head["timing"][k]) is int for k in ("warmup", "iters"))
    # A profile written when the counts were floats reads them as the counts they are.
    lines = profile.read_text().splitlines()
    old = tmp_path / "old.jsonl"
    old.write_text("\n".join([json.dumps({**head, "timing": {"warmup": 1.0, "iters": 3.0, "min_time_s": 0}}),
                              *lines[1:]]) + "\n")
    timing = read_profile(old).header.timing
    assert timing == {"warmup": 1, "iters": 3, "min_time_s": 0} and type(timing["iters"]) is int


def test_a_bad_space_file_is_one_line(tmp_path):
    space = tmp_path / "s.yaml"
    space.write_text("samples: many\n")
    res = CliRunner().invoke(main, ["profile", "--space", str(space), "-o", str(tmp_path / "p.jsonl")])
    assert res.exit_code == 2 and "samples: input should be a valid integer" in res.output
