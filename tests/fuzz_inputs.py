"""A seeded fuzzer of the files and values resgraph reads besides specs: results files, weights, CLI values.

Every input must give exit 0 or one line and exit 2 (never an internal error), in under 5 s.
``tests/test_fuzz_inputs.py`` runs a small budget in ``make test``; ``python tests/fuzz_inputs.py --budget N``
runs a large one by hand.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

NUMBERS = ["0", "-1", "1e308", "-1e308", "nan", "inf", "-inf", "1e-320", str(2**64), str(2**64 - 1), "0x10", "1_0",
           "1:1:1.0", "", " ", "\x00", "9" * 400, "0.1", "100", "100.0001", "1e3", "abc", "\u0661"]
OPTIONS = [("train", "resnet20", "--lr"), ("train", "resnet20", "--weight-decay"), ("train", "resnet20", "--seed"),
           ("lower", "resnet20", "--seed"), ("export", "resnet20", "--seed"), ("bench", "resnet20", "--row-timeout"),
           ("bench", "resnet20", "--min-time"), ("bench", "resnet20", "--threads"), ("bench", "resnet20", "--workers")]
SCHEDULERS = ["tls://1.2.3.4:1", "tcp://127.0.0.1:0", "tcp://127.0.0.1:99999", "tcp://:1", "tcp://a b:1", "x",
              "tcp://127.0.0.1:-1", "tcp://[::1]:", "inproc://x", "tcp://127.0.0.1:1"]
FIELDS = ["record", "spec", "backend", "status", "batch", "env", "reason", "p50_ms", "run", "step", "schema_version"]
VALUES: list[object] = [None, True, -1, 10**30, 1e308, "x\x1b[2J", [], {}, [[[]]], "\ud800", "ok", "train_run", 3]


def _results_line(rng: random.Random) -> str:
    if rng.random() < 0.1:
        return rng.choice(["[" * 50_000 + "]" * 50_000, "\ufeff{}", "{", "null", '"s"', "\xff", "{}" * 1000])
    return json.dumps({rng.choice(FIELDS): rng.choice(VALUES) for _ in range(rng.randint(0, 6))})


def cases(seed: int) -> Iterator[tuple[str, Callable[[Path], list[str]]]]:
    """An endless, seeded stream of (label, make(folder) -> CLI arguments)."""
    rng = random.Random(seed)
    while True:
        kind = rng.choice(["option", "scheduler", "results", "weights"])
        if kind == "option":
            cmd, spec, opt = rng.choice(OPTIONS)
            value = rng.choice(NUMBERS)
            yield f"{cmd} {opt} {value!r}", lambda d, c=cmd, s=spec, o=opt, v=value: [
                c, s, o, v, *(["--dry-run", "--out", str(d / "r.jsonl")] if c == "bench" else []),
                *(["--help"] if c in ("train", "export") else [])]
        elif kind == "scheduler":
            value = rng.choice(SCHEDULERS)
            yield f"--scheduler {value!r}", lambda d, v=value: ["bench", "resnet20", "--scheduler", v, "--dry-run",
                                                               "--out", str(d / "r.jsonl")]
        elif kind == "results":
            lines = [_results_line(rng) for _ in range(rng.randint(1, 5))]

            def make(d: Path, lines: list[str] = lines) -> list[str]:
                (d / "r.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8", errors="surrogatepass")
                return ["report", str(d / "r.jsonl"), "-o", str(d / "rep")]
            yield f"results {lines[0][:40]!r}", make
        else:
            how = rng.choice(["half", "long", "nan", "sparse", "drop", "extra", "str", "shape"])

            def make_w(d: Path, how: str = how) -> list[str]:
                import torch

                from resgraph.lower import build_model

                sd: dict[str, object] = dict(build_model("resnet20", seed=0).state_dict())
                k = "conv1.weight"
                t = sd[k]
                assert isinstance(t, torch.Tensor)
                sd[k] = {"half": t.half(), "long": t.long(), "nan": t * float("nan"), "sparse": t.to_sparse(),
                         "str": "x", "shape": t[:1], "drop": t, "extra": t}[how]
                if how == "drop":
                    del sd[k]
                if how == "extra":
                    sd["x.y"] = t
                torch.save(sd, d / "w.pt")
                return ["lower", "resnet20", "--weights", str(d / "w.pt")]
            yield f"weights {how}", make_w


def check(make: Callable[[Path], list[str]]) -> str | None:
    """Why one input failed the rule (None: exit 0, or exit 2 with one line, under 5 s)."""
    from click.testing import CliRunner

    from resgraph.cli.main import main

    with tempfile.TemporaryDirectory() as folder:
        args = make(Path(folder))
        t0 = time.perf_counter()
        res = CliRunner().invoke(main, args)
        took = time.perf_counter() - t0
    lines = [ln for ln in res.output.strip().splitlines() if not ln.startswith("warning:")]
    if res.exit_code not in (0, 2) or "internal error" in res.output:
        return f"exit {res.exit_code}: {res.output.strip()[-200:]!r}"
    if res.exit_code == 2 and len(lines) != 1 and not args[0] == "report":
        return f"exit 2 in {len(lines)} lines: {res.output[-200:]!r}"
    if took > 5:
        return f"{took:.1f} s"
    return None


def run(budget: int, seed: int = 0) -> tuple[int, list[str]]:
    """Check ``budget`` inputs; the number checked and every finding."""
    found = []
    for n, (label, make) in enumerate(cases(seed)):
        if n >= budget:
            break
        why = check(make)
        if why:
            found.append(f"{label}: {why}")
    return budget, found


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--budget", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    t0 = time.perf_counter()
    n, found = run(a.budget, a.seed)
    print(f"{n} inputs, seed {a.seed}, {time.perf_counter() - t0:.0f} s, {len(found)} findings")
    for f in found:
        print(" ", f)
