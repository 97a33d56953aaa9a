"""Which model serves a request: trace names are names, paths only where the user gave them, never a guess.

A trace's `model` field is looked up among the shipped configs only; it is opened as a local
config.json only when it is exactly a name the user passed (`--model`, `--default-model`, an
env.json deployment), or that model's canonical name. A request without a model takes
`--model`, else `--default-model`, else the one model env.json deploys; with none of them the
run is refused rather than served by some default model.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from llmsim.cost import load_model_spec, resolve_model_name
from llmsim.cost.model_spec import is_shipped_name
from llmsim.errors import UnknownModelError, UsageError

NO_MODEL_EXPECTED = "--model NAME, --default-model NAME, or an env.json deployment naming the model"


class ModelNames:
    """Resolves request model fields to canonical names under the rules above."""

    def __init__(self, *, override: str | None, default_model: str | None, deployed: Iterable[str]) -> None:
        self.override = override
        deployed = list(dict.fromkeys(deployed))
        self.user_given = {n for n in (override, default_model, *deployed) if n}
        self._user_canonical = {resolve_model_name(n): n for n in self.user_given if _known(n)}
        deployed_canonical = list(dict.fromkeys(resolve_model_name(n) for n in deployed if _known(n)))
        self.default = default_model or (deployed[0] if len(deployed_canonical) == 1 else None)
        self.ambiguous = len(deployed_canonical) > 1
        self._cache: dict[str | None, str | None] = {}

    def missing_model_error(self) -> UsageError:
        """The refusal for a request with no model and nothing to take it from."""
        why = " (env.json deploys several models)" if self.ambiguous else ""
        return UsageError(f"the trace has requests without a model field and no model was given{why}",
                          field="model", expected=NO_MODEL_EXPECTED)

    def name_for(self, raw: str | None) -> str:
        """The name to look up for a request's model field (raises when there is none)."""
        name = self.override or raw or self.default
        if name is None:
            raise self.missing_model_error()
        return name

    def trusted(self, name: str) -> bool:
        """Whether `name` may be opened as a local path (the user gave it)."""
        return name in self.user_given or name in self._user_canonical

    def check(self, name: str) -> str:
        """The canonical name, or UnknownModelError (a trace name that is not shipped is unknown)."""
        if not self.trusted(name) and not is_shipped_name(name):
            raise _unknown_error(name)
        if name in self._user_canonical and name not in self.user_given:
            name = self._user_canonical[name]
        load_model_spec(name)
        return resolve_model_name(name)

    def resolver(self) -> Callable[[str | None], str | None]:
        """model field -> canonical name, None when unknown (the request fails with unknown_model)."""
        cache = self._cache

        def resolve(raw: str | None) -> str | None:
            if raw in cache:
                return cache[raw]
            name = self.name_for(raw)
            try:
                result: str | None = self.check(name)
            except UnknownModelError:
                result = None
            cache[raw] = result
            return result

        return resolve


def _known(name: str) -> bool:
    try:
        load_model_spec(name)
    except UnknownModelError:
        return False
    return True


def _unknown_error(name: str) -> UnknownModelError:
    from llmsim.cost.model_spec import shipped_model_names

    return UnknownModelError(f"unknown model {name!r}",
                             expected="one of " + ", ".join(shipped_model_names())
                             + " (a trace names models; pass a local config with --model or env.json)")
