"""GPU prices: hourly cost per GPU id from the shipped data file or the user's (--prices FILE)."""

from __future__ import annotations

from pathlib import Path

import msgspec

from llmsim.errors import ConfigError, InputFileError

DEFAULT_PRICES = Path(__file__).with_name("data") / "gpu_prices.json"


class Price(msgspec.Struct, forbid_unknown_fields=True):
    """One GPU id's hourly price and where it comes from."""

    usd_per_gpu_hour: float
    source: str
    date: str
    offer: str = ""


class PriceFile(msgspec.Struct, forbid_unknown_fields=True):
    """The prices file: GPU id -> Price."""

    prices: dict[str, Price]
    about: str = ""
    currency: str = "USD"


def load_prices(path: str | None = None) -> dict[str, Price]:
    """Prices by GPU id (the shipped file when `path` is None); a bad file is a one-line error."""
    where = str(path or DEFAULT_PRICES)
    try:
        data = Path(where).read_bytes()
    except OSError as err:
        raise InputFileError(f"cannot read the prices: {err.strerror}", file=where) from None
    try:
        prices = msgspec.json.decode(data, type=PriceFile).prices
    except msgspec.DecodeError as err:
        raise ConfigError(f"bad prices file: {err}", file=where,
                          expected='{"prices": {"GPU_ID": {"usd_per_gpu_hour": N, "source": URL, "date": DATE}}}') from None
    for gpu, price in prices.items():
        if not price.usd_per_gpu_hour >= 0:
            raise ConfigError(f"negative price {price.usd_per_gpu_hour}", file=where, field=f"prices.{gpu}")
    return prices


def cluster_cost_per_hour(gpus: dict[str, int], prices: dict[str, Price]) -> float | None:
    """Dollars per hour for these GPUs; None when any GPU id has no price."""
    if any(gpu not in prices for gpu in gpus):
        return None
    return sum(count * prices[gpu].usd_per_gpu_hour for gpu, count in gpus.items())
