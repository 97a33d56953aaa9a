"""Shared-prefix generation and the ideal (infinite-cache) prefix hit rate of a trace."""

from __future__ import annotations

import numpy as np
import pytest

from llmsim.errors import UsageError
from llmsim.workload.lengths import parse_length_spec
from llmsim.workload.request import TraceRequest
from llmsim.workload.shared_prefix import SharedPrefixSpec, cycle, prompt_hashes
from llmsim.workload.stats import IdealPrefixCache, ideal_prefix_hit_rate
from llmsim.workload.synthetic import GenerateOptions, generate


def test_prompts_share_their_groups_system_units_only() -> None:
    """A 40-token system prompt is two whole 16-token units shared by the group; the rest is the prompt's own."""
    spec = SharedPrefixSpec(groups=2, prompts_per_group=3, system_tokens=40)
    a, b, c = prompt_hashes(spec, 0, 0, 100), prompt_hashes(spec, 0, 1, 100), prompt_hashes(spec, 1, 0, 100)
    assert len(a) == 6 and a[:2] == b[:2] and a[2:] != b[2:] and not set(a) & set(c)


def test_requests_cycle_through_every_prompt_in_a_seeded_order() -> None:
    """G x U distinct prompts, each sent once per pass, the same order every pass and for the same seed."""
    spec = SharedPrefixSpec(groups=3, prompts_per_group=2, system_tokens=32)
    made = cycle(spec, [10, 20, 30, 40, 50, 60], [5] * 6, 18, np.random.default_rng(1))
    first = made[:6]
    assert len({h for _, _, h in first}) == 6 and made[6:12] == first and made[12:] == first
    assert sorted(i for i, _, _ in first) == [42, 52, 62, 72, 82, 92]
    assert made == cycle(spec, [10, 20, 30, 40, 50, 60], [5] * 6, 18, np.random.default_rng(1))


def test_generate_writes_prefix_hashes_and_the_parse_refuses_bad_specs() -> None:
    spec = SharedPrefixSpec.parse("2:2:32")
    opts = GenerateOptions(count=8, shared_prefix=spec, seed=3)
    records = list(generate(parse_length_spec("fixed:20", "input"), parse_length_spec("fixed:4", "output"), opts))
    assert all(r.input_tokens == 52 and r.prefix_block_tokens == 16 and len(r.prefix_hashes) == 3 for r in records)
    assert len({r.prefix_hashes for r in records}) == 4
    for bad in ("2:2", "0:1:5", "a:b:c"):
        with pytest.raises(UsageError):
            SharedPrefixSpec.parse(bad)


def _tr(i: int, tokens: int, hashes: tuple[int, ...], unit: int = 16) -> TraceRequest:
    return TraceRequest(id=str(i), line=i, input_tokens=tokens, output_tokens=1, prefix_hashes=hashes,
                        prefix_block_tokens=unit)


def test_ideal_hit_rate_chains_caps_and_ignores_unhashed_traces() -> None:
    cache = IdealPrefixCache()
    assert cache.add(_tr(1, 48, (1, 2, 3))) == 0
    assert cache.add(_tr(2, 48, (1, 2, 3))) == 32  # capped at the prompt minus one token: 2 of 3 units
    assert cache.add(_tr(3, 48, (9, 2, 3))) == 0  # a shared middle without the shared start
    assert cache.hit_rate == pytest.approx(32 / 144)
    assert ideal_prefix_hit_rate([TraceRequest(id="x", line=1, input_tokens=5, output_tokens=1)]) is None
