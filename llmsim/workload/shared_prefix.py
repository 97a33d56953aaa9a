"""Shared-prefix workloads: G system prompts, U prompts (users) each, cycled as inference-perf's `shared_prefix` does.

inference-perf builds G x U prompts once (a group's system prompt of S tokens + a question of
its own) and sends them in a fixed shuffled order, round and round, so every prompt repeats:
with prefix caching the first pass prefills the system prompts once per group, later passes
find almost the whole prompt cached. SGLang's generated-shared-prefix dataset has the same shape.

Prefix hashes name 16-token units: a unit inside the system prompt is its group's; a unit
that reaches into the question belongs to that prompt alone.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec
import numpy as np

from llmsim.errors import UsageError

UNIT_TOKENS = 16


class SharedPrefixSpec(msgspec.Struct, frozen=True, kw_only=True):
    """G groups of U prompts; each group's prompts start with the same S-token system prompt."""

    groups: int
    prompts_per_group: int
    system_tokens: int

    @classmethod
    def parse(cls, text: str, option: str = "--shared-prefix") -> SharedPrefixSpec:
        """From 'G:U:S' (groups, prompts per group, system-prompt tokens)."""
        parts = text.split(":")
        try:
            g, u, s = (int(p) for p in parts)
        except ValueError:
            raise UsageError(f"got {text!r}", field=option, expected="GROUPS:PROMPTS_PER_GROUP:SYSTEM_TOKENS, "
                             "e.g. 10:5:150") from None
        if g < 1 or u < 1 or s < 0:
            raise UsageError(f"got {text!r}", field=option, expected="groups >= 1, prompts >= 1, system tokens >= 0")
        return cls(groups=g, prompts_per_group=u, system_tokens=s)

    @property
    def prompts(self) -> int:
        """How many distinct prompts there are."""
        return self.groups * self.prompts_per_group


def prompt_hashes(spec: SharedPrefixSpec, group: int, prompt: int, input_tokens: int) -> tuple[int, ...]:
    """Prefix hashes of one prompt's full 16-token units (the system prompt's are its group's)."""
    shared = spec.system_tokens // UNIT_TOKENS
    own = (group * spec.prompts_per_group + prompt + 1) << 32
    return tuple(((group + 1) << 20) + i if i < shared else own + i for i in range(input_tokens // UNIT_TOKENS))


def prompt_order(spec: SharedPrefixSpec, rng: np.random.Generator) -> list[tuple[int, int]]:
    """(group, prompt) of every distinct prompt in the seeded shuffled order they are sent in."""
    order = [(g, p) for g in range(spec.groups) for p in range(spec.prompts_per_group)]
    return [order[i] for i in rng.permutation(len(order)).tolist()]


def cycle(spec: SharedPrefixSpec, questions: Sequence[int], outputs: Sequence[int], count: int,
          rng: np.random.Generator) -> list[tuple[int, int, tuple[int, ...]]]:
    """(input tokens, output tokens, prefix hashes) of `count` requests cycling through the prompts.

    `questions` and `outputs` give each distinct prompt's question and output length (index
    group * U + prompt).
    """
    order = prompt_order(spec, rng)
    made = []
    for g, p in order:
        i = g * spec.prompts_per_group + p
        inputs = spec.system_tokens + questions[i]
        made.append((inputs, outputs[i], prompt_hashes(spec, g, p, inputs)))
    return [made[k % len(made)] for k in range(count)]
