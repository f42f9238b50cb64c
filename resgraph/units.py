"""Human-readable counts, shared by every table and picture resgraph prints."""

from __future__ import annotations

_UNITS = (("G", 1e9), ("M", 1e6), ("K", 1e3))
_BYTE_UNITS = (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10))


def human(n: int, units: tuple[tuple[str, float], ...] = _UNITS) -> str:
    """Four significant digits and a unit: 25557032 -> '25.56 M', 4089184256 -> '4.089 G', 464 -> '464'."""
    for i, (unit, scale) in enumerate(units):
        if n >= scale:
            text = f"{n / scale:#.4g}"
            if i > 0 and float(text) * scale >= units[i - 1][1]:  # 999.96 K rounds up: say 1.000 M
                unit, scale = units[i - 1]
                text = f"{n / scale:#.4g}"
            return f"{text.rstrip('.')} {unit}"
    return str(n)


def human_bytes(n: int) -> str:
    """Binary units: 150247328 -> '143.3 MiB'."""
    return human(n, _BYTE_UNITS) if n >= 1024 else f"{n} B"


def human_duration(seconds: float) -> str:
    """An estimate's length, rounded as a person says it: 42 -> 'about 40 s', 200 -> 'about 3 min', 7300 -> 'about 2 h'.
    """
    if seconds < 60:
        return f"about {max(5, round(seconds / 5) * 5)} s"
    if seconds < 3600:
        return f"about {round(seconds / 60)} min"
    return f"about {seconds / 3600:.1f} h".replace(".0 h", " h")
