"""``--param key=value`` / ``model.key=value``: model parameters from the command line, typed by each Config."""

from __future__ import annotations

from dataclasses import MISSING, fields
from typing import Any

from ..errors import DataError
from ..models import model_class


def _coerce(text: str, default: Any, where: str) -> Any:
    """``text`` as the type of the parameter's default (``none`` for None where that makes sense)."""
    low = text.strip().lower()
    if low in ("none", "null"):
        return None
    try:
        if isinstance(default, bool):
            if low in ("true", "yes", "1", "on"):
                return True
            if low in ("false", "no", "0", "off"):
                return False
            raise ValueError
        if isinstance(default, int):
            return int(text)
        if isinstance(default, float):
            return float(text)
        if isinstance(default, str) and default != "auto":
            return text
        for parse in (int, float):  # default None: a number if it reads as one
            try:
                return parse(text)
            except ValueError:
                pass
        return text
    except ValueError:
        kind = {bool: "true or false", int: "a whole number", float: "a number"}.get(type(default), "a value")
        raise DataError(
            f"--param {where}={text}: expected {kind} (the default is {default}), found {text!r}; e.g. --param {where}={default}"
        ) from None


def parse_params(
    pairs: list[str], chosen: dict[str, str], defaults: dict[str, Any] | None = None
) -> dict[str, dict[str, Any]]:
    """``key=value`` (every chosen model with that parameter) or ``model.key=value`` -> params by kind.

    ``defaults`` (e.g. the --device and --seed options) go to every model whose Config has
    them, unless a pair set them or they are None.
    """
    out: dict[str, dict[str, Any]] = {kind: {} for kind in chosen}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise DataError(f"--param {pair!r}: expected key=value or model.key=value, e.g. --param mf.factors=64")
        target, dot, name = key.strip().rpartition(".")
        kinds = [k for k, m in chosen.items() if not dot or m == target]
        if dot and not kinds:
            raise DataError(f"--param {pair}: {target!r} is not one of the models being trained ({', '.join(chosen.values())})")
        applied = False
        for kind in kinds:
            config = {f.name: f.default for f in fields(model_class(chosen[kind]).Config) if f.default is not MISSING}
            if name in config:
                out[kind][name] = _coerce(value, config[name], key)
                applied = True
        if not applied:
            known = sorted({f.name for m in chosen.values() for f in fields(model_class(m).Config)})
            raise DataError(f"--param {pair}: no model being trained has a parameter {name!r}; they have {', '.join(known)}")
    for kind, model in chosen.items():
        names = {f.name for f in fields(model_class(model).Config)}
        for name, value in (defaults or {}).items():
            if value is not None and name in names:
                out[kind].setdefault(name, value)
    return out
