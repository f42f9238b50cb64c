"""Glue from specs to the bench harness: a ModelEntry per spec (the harness never sees a spec)."""

from __future__ import annotations

import hashlib
import os
import warnings
from dataclasses import dataclass
from typing import Any

from resgraph.bench.row import ModelEntry
from resgraph.errors import SpecError, UsageError, format_path
from resgraph.graph import compile_spec
from resgraph.graph.analyze import analyze
from resgraph.graph.load import load_spec, validate_source
from resgraph.kinds import SHORTCUTS
from resgraph.spec import ResNetSpec, dump_spec
from resgraph.spec.dump import spec_data
from resgraph.spec.loader import SpecWarning
from resgraph.spec.source import Source

MAX_NAME = 200  # ResNetSpec.name's limit
# Bundled presets that are torchvision's networks (tests/lower check it), for a same-run baseline.
TORCHVISION_NAMES = ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext50_32x4d",
                     "resnext101_32x8d", "resnext101_64x4d", "wide_resnet50_2", "wide_resnet101_2")


def spec_hash(spec: ResNetSpec) -> str:
    """Short content hash: --resume never mixes rows of two versions of a spec."""
    return hashlib.sha256(dump_spec(spec, "json").encode()).hexdigest()[:12]


@dataclass(frozen=True)
class SpecFactory:
    """A model factory that is plain data: the resolved spec (``extends`` already merged) as JSON-like data.

    It pickles, so a row can leave this process (an isolated worker, a Dask worker on another host) and
    the model is rebuilt there from the spec; the harness still only calls it. ``weights``, a state_dict
    file (checked against the spec by :func:`spec_entry`), is loaded after ``build_model`` where the row runs.
    """

    data: dict[str, Any]  # spec_data(spec): every field explicit, no file references left
    weights: str | None = None  # absolute path of a state_dict file; None: seeded random init

    def __call__(self) -> Any:
        from resgraph.lower import build_model

        spec = ResNetSpec.model_validate(self.data)
        if self.weights is None:
            return build_model(spec).eval()
        from resgraph.lower.weights import load_weights, read_state_dict

        return load_weights(build_model(spec, device="meta"), read_state_dict(self.weights))


@dataclass(frozen=True)
class TorchvisionFactory:
    """torchvision's own model by name (no download), random or ``weights``; plain data like :class:`SpecFactory`."""

    name: str  # one of TORCHVISION_NAMES
    weights: str | None = None  # a state_dict file with torchvision's keys (resgraph's are the same)

    def __call__(self) -> Any:
        import torchvision

        model = getattr(torchvision.models, self.name)(weights=None).eval()
        if self.weights is not None:
            from resgraph.lower.weights import read_state_dict

            model.load_state_dict(read_state_dict(self.weights), strict=True)
        return model


def spec_entry(spec_or_ref: ResNetSpec | str, weights: str | os.PathLike[str] | None = None,
               data: str | None = None) -> ModelEntry:
    """A harness entry for a spec: factory rebuilds the lowered module from the spec's data; counts from the IR.

    ``weights`` (a state_dict file) is read and checked against the spec here, once, so a wrong
    file is one error before any row runs; each row loads it again where it runs. ``data`` names
    the data set int8 rows calibrate on and are checked with (its images must fit the input).
    """
    spec = load_spec(spec_or_ref)
    g = compile_spec(spec)
    summary = analyze(g)
    c, (h, w) = spec.input.channels, spec.input.hw
    path = wid = None
    if weights is not None:
        from resgraph.lower import build_model
        from resgraph.lower.weights import check_state_dict, read_state_dict, weights_id

        check_state_dict(read_state_dict(weights), build_model(g, device="meta"), weights, spec.name)
        path, wid = os.path.abspath(weights), weights_id(weights)
    if data is not None:
        from resgraph.bench.inputs import check_data

        check_data(data, (c, h, w), spec.name)
    return ModelEntry(spec.name, SpecFactory(spec_data(spec), path), spec_hash(spec), summary.macs, summary.params,
                      summary.depth, summary.design, (c, h, w), weights=wid, data=data)


def torchvision_entry(spec: ResNetSpec, base: ModelEntry, weights: str | os.PathLike[str] | None = None) -> ModelEntry:
    """torchvision's own model of the same network (``base`` is the spec's entry), for a same-run baseline.

    Found by structure, whatever the spec is called: the spec must equal, name aside, a
    bundled preset that is one of torchvision's networks. The row reuses the spec's counts,
    and loads the same ``weights`` (checked against the spec by :func:`spec_entry`).
    """
    # What does not change the network torchvision builds: names, notes, the input size (its pool is
    # adaptive), training-only settings.
    same = {"name": spec.name, "description": spec.description, "input": spec.input, "drop_path": spec.drop_path,
            "zero_init_residual": spec.zero_init_residual}
    match = next((n for n in TORCHVISION_NAMES if load_spec(n).model_copy(update=same) == spec), None)
    if match is None:
        raise UsageError(f"--torchvision: spec {spec.name!r} is none of torchvision's networks (by structure: "
                         f"{', '.join(TORCHVISION_NAMES)}), so there is no same network to run beside it")
    factory = TorchvisionFactory(match, os.path.abspath(weights) if weights is not None else None)
    return ModelEntry(f"torchvision:{match}", factory, base.spec_hash, base.macs, base.params, base.depth,
                      base.design, base.input_shape, weights=base.weights, data=base.data,
                      packages=("torchvision",))


def shortcut_variants(spec: ResNetSpec) -> list[ResNetSpec]:
    """The network with every registered shortcut option (A, B, C, ...) and its plain twin, each re-validated.

    Per-stage shortcut overrides are cleared so each option applies throughout (a warning says so).
    An option that cannot build this network (A where channels shrink) is left out with a warning
    naming the reason; if none can, the first reason is the error.
    """
    base = spec.name
    for o in SHORTCUTS.names():
        base = base.removesuffix(f"_{o}")
    base = base[: MAX_NAME - len("_plain")]  # every variant's name must stay a valid name
    if any(st.shortcut for st in spec.stages):
        warnings.warn(f"{spec.name}: its stages' own shortcut options are cleared, so that each variant uses "
                      "one option throughout", SpecWarning, stacklevel=2)
    changes = [{"shortcut": o, "residual": True, "name": f"{base}_{o}"} for o in SHORTCUTS.names()]
    changes.append({"residual": False, "drop_path": 0.0, "name": f"{base}_plain"})  # no branch to drop: eval is equal
    out, refused = [], []
    for change in changes:
        data = {**spec_data(spec), **change}
        data["stages"] = [{k: v for k, v in st.items() if k != "shortcut"} for st in data["stages"]]
        result = validate_source(Source(data, {}, spec.name))
        if result.errors:
            refused.append(result.errors)
            what = f"option {change['shortcut']}" if "shortcut" in change else "the plain twin"
            err = result.errors[0]
            warnings.warn(f"{spec.name}: leaving out {what}: {format_path(err.path)}: {err.message}",
                          SpecWarning, stacklevel=2)
            continue
        assert result.spec is not None
        out.append(result.spec)
    if not out:
        raise SpecError(refused[0])
    return out
