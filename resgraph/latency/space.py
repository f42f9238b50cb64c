"""What a profile covers: the bundled presets and seeded random networks drawn from the design space.

The draws cover every block kind, shortcut option, stem and attention kind, widths from 16 to 2048
channels, strides 1 and 2, and the input sizes the presets reach (32 and 224, with 160 and 192 between).
Every draw is validated like a spec file; a draw the checks refuse is drawn again. ``--space FILE``
(a YAML file of this module's :class:`Space`) narrows or widens it.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from resgraph.errors import UsageError
from resgraph.graph.load import load_spec, validate_source
from resgraph.spec import ResNetSpec, preset_names
from resgraph.spec.source import Source

__all__ = ["Space", "draw_spec", "load_space", "space_specs"]

_IMAGENET_BLOCKS = ("basic", "bottleneck", "preact_basic", "preact_bottleneck")
_CIFAR_BLOCKS = ("basic", "preact_basic", "bottleneck")


class Space(BaseModel):
    """The networks whose segments a profile times (and whose whole latency calibrates it)."""

    model_config = ConfigDict(extra="forbid")

    presets: bool = True  # every bundled preset
    specs: list[str] = Field(default_factory=list, max_length=1000)  # spec files or preset names
    samples: int = Field(16, ge=0, le=2000)  # random networks drawn from the design space
    seed: int = 0  # the draws' seed
    calibration: list[str] = Field(default_factory=lambda: ["resnet18", "resnet50", "resnet20", "resnet56"],
                                   max_length=50)  # whole networks timed end to end
    calibration_samples: int = Field(4, ge=0, le=200)  # and this many drawn ones


def load_space(path: Path | None) -> Space:
    """The default space, or the one a YAML file describes (one line naming the problem if it is not one)."""
    if path is None:
        return Space()
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        return Space.model_validate(data)
    except (OSError, yaml.YAMLError) as exc:
        raise UsageError(f"{path}: cannot read the space: {exc}") from None
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        where = ".".join(map(str, err["loc"])) or "space"
        raise UsageError(f"{path}: {where}: {err['msg'].lower()} (received {err.get('input')!r})") from None


def draw_spec(rng: random.Random, name: str) -> ResNetSpec:
    """One valid network drawn from the design space."""
    while True:
        data = _draw(rng, name)
        result = validate_source(Source(data), name)
        if result.spec is not None and not result.errors:
            return result.spec


def _draw(rng: random.Random, name: str) -> dict[str, Any]:
    if rng.random() < 0.35:  # a CIFAR-style net: 32x32, three stages
        mult = rng.choice((1, 1, 2, 4))
        block = rng.choice(_CIFAR_BLOCKS)
        return {"name": name, "input": {"channels": 3, "size": 32}, "stem": {"type": "cifar", "width": 16 * mult},
                "block": _block(rng, block), "shortcut": rng.choice("ABCD") if block != "bottleneck" else
                rng.choice("BCD"), "head": {"classes": 10},
                "stages": [{"blocks": rng.randint(1, 6), "width": 16 * mult * 2 ** i, "stride": 1 if i == 0 else 2}
                           for i in range(3)]}
    block = rng.choice(_IMAGENET_BLOCKS)
    base = rng.choice((16, 32, 48, 64, 64, 96))
    size = rng.choice((224, 224, 160, 192))
    stages = [{"blocks": rng.randint(1, 4), "width": base * 2 ** i, "stride": 1 if i == 0 else 2} for i in range(4)]
    return {"name": name, "input": {"channels": 3, "size": size},
            "stem": {"type": rng.choice(("imagenet", "imagenet", "deep", "tiered"))},
            "block": _block(rng, block), "shortcut": rng.choice("BCD"), "head": {"classes": 1000}, "stages": stages}


def _block(rng: random.Random, kind: str) -> dict[str, Any]:
    out: dict[str, Any] = {"type": kind}
    if kind in ("basic", "bottleneck"):
        out["attention"] = rng.choice((None, None, "se", "eca"))
    if kind == "bottleneck" and rng.random() < 0.3:
        out["groups"], out["base_width"] = rng.choice(((32, 4), (16, 8), (1, 128)))
    return out


def space_specs(space: Space) -> tuple[list[ResNetSpec], list[ResNetSpec]]:
    """(networks whose segments are timed, whole networks timed for calibration), each list without repeats."""
    named = [load_spec(p) for p in preset_names()] if space.presets else []
    named += [load_spec(ref) for ref in space.specs]
    rng = random.Random(space.seed)
    drawn = [draw_spec(rng, f"space{space.seed}_{i}") for i in range(space.samples)]
    calib = [load_spec(ref) for ref in space.calibration]
    calib += [draw_spec(rng, f"calib{space.seed}_{i}") for i in range(space.calibration_samples)]
    return named + drawn + calib, calib
