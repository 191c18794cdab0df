"""A small hardware table, and FLOPs turned into hours, kWh, litres and dollars.

Each device: peak dense FLOP/s (the precision models are usually run in),
board power in watts, and a rental price in US dollars per hour. A figure we
do not know is ``None`` ("unknown"), never a guess: the planner then reports
that quantity as null rather than a made-up number.

Sources (vendor data sheets; prices are on-demand cloud list prices, mid-2024,
which vary by provider and over time — override them):

- ``h100``: NVIDIA H100 SXM5, 989 TFLOP/s dense BF16 (1979 with sparsity), 700 W TDP; ~$2.99/h.
- ``h200``: NVIDIA H200 SXM, same compute as H100 SXM (989 TFLOP/s dense BF16), 700 W TDP; price unknown.
- ``a100``: NVIDIA A100 SXM4 80 GB, 312 TFLOP/s dense BF16, 400 W TDP; ~$1.79/h.
- ``cpu``: a generic 16-core AVX2 server CPU: 16 cores x 2 FMA units x 8 FP32 lanes
  x 2 FLOP x ~3 GHz ≈ 1.5 TFLOP/s FP32 peak, ~150 W; price unknown.

Memory bandwidth (``memory_bytes_per_second``, for inference counted in weight bytes): H100 SXM5
3.35 TB/s, H200 SXM 4.8 TB/s, A100 SXM4 80 GB 2.039 TB/s (HBM, data sheets); the CPU: eight channels
of DDR4-3200, 8 x 25.6 GB/s = 204.8 GB/s.

Conversions (``compute_cost``), with utilisation u (model FLOPs utilisation:
the fraction of peak a real job sustains; ``DEFAULT_UTILIZATION`` = 0.4, a
typical well-tuned large-model figure, overridable):

    hours = FLOPs / (peak * u) / 3600
    kWh   = hours * watts / 1000       (device board power only: no host, no PUE)
    water = kWh * litres_per_kWh       (data-centre cooling water; 2 L/kWh default)
    USD   = FLOPs / 1e18 * flop_price  when a FLOP price (USD per 1e18 FLOP) is given,
          = hours * USD_per_hour       otherwise, when the device's price is known.

The table can be extended or overridden from a JSON or YAML file mapping a
device name to any of ``peak_flops``, ``watts``, ``usd_per_hour``, ``note``
(optionally under a top-level ``devices`` key), and per run by overrides.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from pathlib import Path

from ttscale.errors import InputError, did_you_mean

DEFAULT_UTILIZATION = 0.4
DEFAULT_WATER_L_PER_KWH = 2.0
FLOP_PRICE_UNIT = 1e18  # --flop-price is in US dollars per 1e18 FLOP


@dataclass(frozen=True)
class Device:
    """One accelerator or CPU; ``None`` fields are unknown."""

    name: str
    peak_flops: float | None  # FLOP/s, dense
    watts: float | None
    usd_per_hour: float | None
    note: str = ""
    memory_bytes_per_second: float | None = None  # memory bandwidth: what one-sequence decoding is bound by

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "peak_flops": self.peak_flops,
            "watts": self.watts,
            "usd_per_hour": self.usd_per_hour,
            "memory_bytes_per_second": self.memory_bytes_per_second,
            "note": self.note,
        }


BUILTIN_DEVICES: dict[str, Device] = {
    "cpu": Device("cpu", 1.5e12, 150.0, None, "generic 16-core AVX2 CPU, FP32 peak; price unknown", 204.8e9),
    "a100": Device("a100", 312e12, 400.0, 1.79, "NVIDIA A100 SXM4 80GB, dense BF16; price: on-demand cloud, mid-2024",
                   2.039e12),
    "h100": Device("h100", 989e12, 700.0, 2.99, "NVIDIA H100 SXM5, dense BF16; price: on-demand cloud, mid-2024",
                   3.35e12),
    "h200": Device("h200", 989e12, 700.0, None, "NVIDIA H200 SXM, dense BF16; price unknown", 4.8e12),
}

FIELDS = ("peak_flops", "watts", "usd_per_hour", "memory_bytes_per_second")


def _positive(value, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, str):
        # PyYAML reads "1.0e14" (no sign in the exponent) as a string; accept numbers written as text.
        try:
            value = float(value)
        except ValueError:
            raise InputError(f"{where}: {value!r} is not a number") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise InputError(f"{where}: {value!r} must be a positive number (or null for unknown)")
    return float(value)


def _read_mapping(path: Path) -> dict:
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            raise InputError(f"{path}: reading YAML needs PyYAML (pip install pyyaml), or give a .json file") from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise InputError(f"{path}: not valid YAML ({exc})") from None
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}: not valid JSON ({exc})") from None
    if isinstance(data, dict) and isinstance(data.get("devices"), dict):
        data = data["devices"]
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a mapping of device name -> {{peak_flops, watts, usd_per_hour}}")
    return data


def load_hardware_table(path: str | Path | None = None) -> dict[str, Device]:
    """The built-in table, with the devices of ``path`` (JSON/YAML) added or overriding fields."""
    table = dict(BUILTIN_DEVICES)
    if path is None:
        return table
    path = Path(path)
    if not path.is_file():
        raise InputError(f"hardware file {str(path)!r} does not exist")
    for name, spec in _read_mapping(path).items():
        name = str(name).strip().lower()
        if not isinstance(spec, dict):
            raise InputError(f"{path}: device {name!r}: expected a mapping of fields, got {spec!r}")
        unknown = set(spec) - set(FIELDS) - {"note"}
        if unknown:
            raise InputError(f"{path}: device {name!r}: unknown field(s) {sorted(unknown)} (known: {', '.join(FIELDS)}, note)")
        base = table.get(name, Device(name, None, None, None))
        values = {f: _positive(spec[f], f"{path}: device {name!r}, field {f!r}") for f in FIELDS if f in spec}
        table[name] = replace(base, note=str(spec.get("note", base.note)), **values)
    return table


def get_device(name: str, table: dict[str, Device] | None = None) -> Device:
    """A device by (case-insensitive) name, with "did you mean" on a typo."""
    table = table if table is not None else BUILTIN_DEVICES
    key = name.strip().lower()
    if key in table:
        return table[key]
    hint = did_you_mean(key, table)
    raise InputError(f"--hardware: unknown device {name!r}{hint} (known: {', '.join(sorted(table))})")


def with_overrides(device: Device | None, **values: float | None) -> Device | None:
    """Replace the given fields (None = keep); a device named 'custom' when there was none."""
    given = {k: _positive(v, f"--{k.replace('_', '-')}") for k, v in values.items() if v is not None}
    unknown = set(given) - set(FIELDS)
    if unknown:
        raise InputError(f"unknown hardware field(s) {sorted(unknown)} (known: {', '.join(FIELDS)})")
    if not given:
        return device
    return replace(device or Device("custom", None, None, None, "given on the command line"), **given)


def check_fraction(value: float, flag: str) -> float:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and 0.0 < value <= 1.0):
        raise InputError(f"{flag} must be in (0, 1], got {value!r}")
    return float(value)


def compute_cost(
    flops: float,
    device: Device | None,
    utilization: float = DEFAULT_UTILIZATION,
    water_l_per_kwh: float = DEFAULT_WATER_L_PER_KWH,
    flop_price: float | None = None,
) -> dict:
    """FLOPs -> hours, kWh, litres of cooling water, dollars (formulas in the module docstring)."""
    hours = kwh = water = usd = None
    usd_source = None
    if device is not None and device.peak_flops is not None:
        hours = flops / (device.peak_flops * utilization) / 3600.0
        if device.watts is not None:
            kwh = hours * device.watts / 1000.0
            water = kwh * water_l_per_kwh
    if flop_price is not None:
        usd, usd_source = flops / FLOP_PRICE_UNIT * flop_price, "flop price"
    elif hours is not None and device is not None and device.usd_per_hour is not None:
        usd, usd_source = hours * device.usd_per_hour, f"{device.name} at ${device.usd_per_hour:g}/h"
    return {"flops": flops, "hours": hours, "kwh": kwh, "water_l": water, "usd": usd, "usd_source": usd_source}
