"""One rule for every registry (kinds, backends, precisions): an unknown name is one error type with a
suggestion and the known names; a name registered twice is refused, the first registration standing."""

from __future__ import annotations

import pickle
import subprocess
import sys

import pytest

from resgraph.errors import ResgraphError, UsageError
from resgraph.kinds import BLOCKS, STEMS
from resgraph.kinds.base import StemKind
from resgraph.kinds.registry import Registry
from resgraph.precision import PRECISIONS, Precision, _index, get_precision, torch_dtype
from resgraph.registry import DuplicateNameError, UnknownNameError, add, lookup, suggest

LOOKUPS = {
    "block type": (lambda name: BLOCKS[name], "bottlenek", "bottleneck", "basic, bottleneck, preact_basic"),
    "stem": (lambda name: STEMS[name], "Imagenet", "imagenet", "imagenet, cifar"),
    "backend": (lambda name: _backends().get_backend(name), "eagr", "eager", "eager, channels_last, folded"),
    "precision": (lambda name: get_precision(name, "--precision"), "fp61", "fp16", "fp32, fp16, bf16, int8"),
    "dtype": (torch_dtype, "bfloat61", "bfloat16", "fp32, float32, fp16"),
}


def _backends():
    from resgraph.bench import backends  # torch: imported only by the tests that need it

    return backends


@pytest.mark.parametrize("what", LOOKUPS)
def test_an_unknown_name_is_one_error_type_with_a_suggestion_and_the_known_names(what):
    get, typo, close, known = LOOKUPS[what]
    with pytest.raises(UnknownNameError) as info:
        get(typo)
    err = info.value
    # A usage error to the CLI (one line, exit 2) and a ValueError to library callers, whichever registry.
    assert isinstance(err, UsageError) and isinstance(err, ValueError) and isinstance(err, ResgraphError)
    text = str(err)
    assert f"unknown {what} {typo!r} (did you mean {close!r}?); known: {known}" in text
    assert len(text.splitlines()) == 1
    assert (err.what, err.name) == (what, typo) and close in err.known


@pytest.mark.parametrize("what", LOOKUPS)
def test_an_unhashable_name_is_the_same_error_not_a_type_error(what):
    get = LOOKUPS[what][0]
    with pytest.raises(UnknownNameError, match=r"unknown .* \['x'\]; known: "):
        get(["x"])


def test_no_suggestion_when_nothing_is_close_and_where_the_name_came_from_leads():
    with pytest.raises(UnknownNameError) as info:
        _backends().get_backend("zzz", "--backend")
    assert str(info.value).startswith("--backend: unknown backend 'zzz'; known: eager, ")
    assert suggest("fp8", PRECISIONS) == "" and suggest("BF16", PRECISIONS) == " (did you mean 'bf16'?)"
    assert suggest(3, ["a"]) == ""
    with pytest.raises(UnknownNameError, match=r"^unknown thing 'a'; known: none$"):
        lookup({}, "thing", "a")


def test_the_error_survives_pickling_as_it_crosses_processes():
    err = pickle.loads(pickle.dumps(UnknownNameError("backend", "eagr", ["eager"], "--backend")))
    assert isinstance(err, UnknownNameError) and str(err) == ("--backend: unknown backend 'eagr' "
                                                              "(did you mean 'eager'?); known: eager")
    dup = pickle.loads(pickle.dumps(DuplicateNameError("backend", "eager", "a", "b")))
    assert str(dup) == "backend 'eager' is registered twice (first by a, again by b); the first registration " \
                       "stands: give the second another name"


def test_a_backend_registered_twice_is_refused_and_the_first_stands(monkeypatch):
    backends = _backends()
    monkeypatch.setattr(backends, "_REGISTRY", dict(backends._REGISTRY))  # nothing leaks into other tests
    eager = backends.get_backend("eager")

    def impostor(model, x, ctx):  # pragma: no cover - never registered
        raise AssertionError

    with pytest.raises(DuplicateNameError, match=r"^backend 'eager' is registered twice \(first by "
                                                  r"resgraph\.bench\.backends, again by test_registry\); the "
                                                  r"first registration stands"):
        backends.register(backends.Backend("eager", impostor, {"cpu": ("fp32",)}))
    assert backends.get_backend("eager") is eager
    new = backends.Backend("test_registry_new", impostor, {"cpu": ("fp32",)})
    assert backends.register(new) is new and backends.get_backend("test_registry_new") is new


def test_a_kind_registered_twice_is_the_same_error():
    reg: Registry[StemKind] = Registry("stem")
    cifar = type(STEMS["cifar"])
    reg.register(cifar)
    with pytest.raises(DuplicateNameError, match=r"^stem 'cifar' is registered twice \(first by resgraph\.kinds\."):
        reg.register(cifar)
    assert reg.names() == ("cifar",)


def test_a_precision_or_alias_given_twice_is_refused():
    fp16 = PRECISIONS["fp16"]
    with pytest.raises(DuplicateNameError, match=r"^precision 'fp16' is registered twice"):
        _index((PRECISIONS["fp32"], fp16, fp16))
    clash = Precision("fp16x", "float16", 2, "relative", tolerance=2e-2, aliases=("half",))
    with pytest.raises(DuplicateNameError, match=r"^precision name or alias 'half' is registered twice"):
        _index((fp16, clash))
    by_name, by_dtype = _index(tuple(PRECISIONS.values()))
    assert by_name == PRECISIONS and by_dtype["half"] is fp16


def test_add_refuses_a_taken_name_and_keeps_the_first():
    table = {"a": 1}
    with pytest.raises(DuplicateNameError, match=r"^thing 'a' is registered twice; the first"):
        add(table, "thing", "a", 2)
    assert add(table, "thing", "b", 3) == 3 and table == {"a": 1, "b": 3}


def test_the_registries_import_without_torch():
    code = ("import sys, resgraph.registry, resgraph.precision, resgraph.kinds; "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_prefix_of_one_name_is_suggested():
    from resgraph.registry import suggest

    assert suggest("onnx", ["eager", "onnxruntime", "inductor"]) == " (did you mean 'onnxruntime'?)"
    assert suggest("amp", ["amp_fp16", "amp_bf16"]) == ""  # two names begin so: no guess
