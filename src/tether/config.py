"""Where tether keeps things, and the validated `tether.toml`.

The config names environment variables, never secrets: keys are read from the
environment at call time and never written anywhere."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from . import layering
from .errors import ConfigError
from .paths import (  # the paths are the config's to name: callers keep `config.data_dir()`
    data_dir as data_dir,
    models_dir as models_dir,
    private_dir as private_dir,
    project_config as project_config,
    project_root as project_root,
    user_config_path as user_config_path,
    workspace as workspace,
    workspace_data as workspace_data,
)

PROVIDER_KINDS = ("openai", "anthropic", "local", "scripted", "pool")  # built in; more come from the entry-point group below
PROVIDER_ENTRY_POINTS = "tether.providers"  # a package adds a kind with `[project.entry-points."tether.providers"] name = "module:Class"`

# Hosted services that speak one of our wire formats, usable as soon as their key is set.
BUILTIN_PROVIDERS: dict[str, dict] = {
    "local": {"kind": "local", "timeout": 600},  # a long reply on two CPU cores takes minutes
    "openai": {"kind": "openai", "base_url": "https://api.openai.com/v1", "api_key_env": "OPENAI_API_KEY"},
    "anthropic": {"kind": "anthropic", "base_url": "https://api.anthropic.com", "api_key_env": "ANTHROPIC_API_KEY"},
    "openrouter": {"kind": "openai", "base_url": "https://openrouter.ai/api/v1", "api_key_env": "OPENROUTER_API_KEY"},
    "groq": {"kind": "openai", "base_url": "https://api.groq.com/openai/v1", "api_key_env": "GROQ_API_KEY"},
    "together": {"kind": "openai", "base_url": "https://api.together.xyz/v1", "api_key_env": "TOGETHER_API_KEY"},
    "deepseek": {"kind": "openai", "base_url": "https://api.deepseek.com/v1", "api_key_env": "DEEPSEEK_API_KEY"},
    "ollama": {"kind": "openai", "base_url": "http://127.0.0.1:11434/v1"},
}
DEFAULT_ROUTES: dict[str, dict] = {"default": {"models": ["local/qwen2.5-coder-1.5b"]}}


def _seen(explicit, start) -> tuple:
    """What a config was loaded from, as the disk has it now (an edited file, a file that
    appeared, `tether trust` or its revoke change it): a server compares it to know when to load again."""
    from .trust import pins_file

    return layering.seen(
        [user_config_path(), project_config(Path(start) if start else None), Path(explicit) if explicit else None, pins_file()]
    )


@dataclass(frozen=True)
class Budget:
    usd_per_day: float | None = None
    usd_per_month: float | None = None
    tokens_per_day: int | None = None
    tokens_per_month: int | None = None

    def is_set(self) -> bool:
        return any(v is not None for v in (self.usd_per_day, self.usd_per_month, self.tokens_per_day, self.tokens_per_month))


@dataclass(frozen=True)
class ProviderConfig:
    name: str
    kind: str
    base_url: str | None = None
    api_key_env: str | None = None
    timeout: float = 60.0
    headers: dict = field(default_factory=dict)
    options: dict = field(default_factory=dict)  # kind-specific (e.g. n_ctx, n_threads for local)


@dataclass(frozen=True)
class RouteConfig:
    name: str
    models: tuple[str, ...]
    retries: int = 1  # extra tries of a model after a transient error, before failing over
    timeout: float | None = None  # per attempt; None: the provider's own
    deadline: float = 300.0  # for the whole call, every attempt included
    max_retry_wait: float = 5.0  # a longer Retry-After fails over instead of waiting
    budget: Budget = Budget()
    escalate: str | None = None  # a route or model a stuck agent run goes on with (`tether do`)


@dataclass(frozen=True)
class ModelOverride:
    context_window: int | None = None
    input_per_mtok: float | None = None
    output_per_mtok: float | None = None
    edit_format: str | None = None
    cached_per_mtok: float | None = None


@dataclass(frozen=True)
class Layer:
    origin: str  # "user", "project" or "--config"
    path: Path
    trusted: bool  # a project's config is trusted only once the person says so (`tether trust`)


@dataclass
class Config:
    path: Path | None  # the most specific file read (names the config in messages)
    providers: dict[str, ProviderConfig]
    routes: dict[str, RouteConfig]
    budget: Budget
    models: dict[str, ModelOverride]
    extra: dict  # sections owned by other floors (leash, verify, …)
    layers: tuple[Layer, ...] = ()
    origins: dict[str, str] = field(default_factory=dict)  # dotted key -> the file that set it
    ignored: tuple[str, ...] = ()  # keys of the project's config that were dropped (see layering.py)
    raw: dict = field(default_factory=dict)  # the merged layers, as read
    source: tuple = ()  # (path, start, trusted) as `load` was given them, to load it again
    seen: tuple = ()  # the files it was loaded from, as they were then (see `_seen`)

    def fresh(self) -> "Config":
        """This config, or the one its files say now if any changed since it was loaded (an edit,
        a new tether.toml, `tether trust` or its revoke): a server asks before each request."""
        if not self.source or _seen(self.source[0], self.source[1]) == self.seen:
            return self
        return load(*self.source)

    def where(self, section: str) -> str:
        """The file that set `section` last: the one a mistake in it is reported against."""
        return _origin(self.origins, section, str(self.path or "config"))

    @property
    def project(self) -> Layer | None:
        return next((layer for layer in self.layers if layer.origin == "project"), None)

    def ignored_note(self) -> str | None:
        """One line naming every key of the project's config that does not apply, and how to apply it."""
        project = self.project
        if not self.ignored or project is None:
            return None
        alone = [k for k in self.ignored if layering.user_only(k.split(" ")[0])]
        how = (
            f"run `tether trust` in {project.path.parent} to apply the rest"
            if not project.trusted and len(alone) < len(self.ignored)
            else "set them in your own config"
        )
        why = "is not trusted, so it may only narrow" if not project.trusted else "is trusted, but some keys are yours alone"
        return f"{project.path} {why}; these keys are ignored: {', '.join(self.ignored)} ({how})"

    def to_dict(self) -> dict:
        """The effective config, each value with the file it came from."""
        values = [{"key": k, "value": v, "origin": self.origins.get(k, "default")} for k, v in sorted(self.effective().items())]
        project = None if self.project is None else {"path": str(self.project.path), "trusted": self.project.trusted}
        return {
            "layers": [{"origin": x.origin, "path": str(x.path), "trusted": x.trusted} for x in self.layers],
            "project": project,
            "values": values,
            "ignored": list(self.ignored),
            "note": self.ignored_note(),
        }

    def effective(self) -> dict[str, object]:
        """Every value in force as a dotted key: the built-in providers and routes, the defaults a
        project may narrow, and what the layers set."""
        builtin = {"providers": BUILTIN_PROVIDERS, "routes": DEFAULT_ROUTES, **layering.DEFAULTS}
        return {**dict(layering.leaves(builtin)), **dict(layering.leaves(self.raw))}


EXTRA_SECTIONS = {*layering.KEYS, *layering.LISTS}  # sections read elsewhere (leash.py, verify.py, mcp/, llm/meter.py, context/index.py)
SECTIONS = layering.SECTIONS
_PROVIDER_KEYS = {"kind", "base_url", "api_key_env", "timeout", "headers", "options"}
_ROUTE_KEYS = {"models", "retries", "timeout", "deadline", "max_retry_wait", "budget", "escalate"}
_BUDGET_KEYS = {"usd_per_day", "usd_per_month", "tokens_per_day", "tokens_per_month"}
_MODEL_KEYS = {"context_window", "input_per_mtok", "output_per_mtok", "cached_per_mtok", "edit_format"}
EDIT_FORMATS = ("search-replace", "whole")


def load(path: Path | str | None = None, start: Path | str | None = None, trusted: bool | None = None) -> Config:
    """The layered config: the user's, then the project's `tether.toml` found from `start` (the
    workspace; else the current folder), then `path` (`--config`), merged key by key. The
    project's file applies only as far as `layering.narrow` lets it; `trusted` says what trust
    to assume for it instead of its pin (`tether trust` loads it so before pinning it)."""
    layers = []
    user = user_config_path()
    if user.is_file():
        layers.append(Layer("user", user, True))
    project = project_config(Path(start) if start else None)
    explicit = Path(path) if path else None
    if explicit is not None and not explicit.is_file():
        raise ConfigError(f"{explicit}: no such config file")
    if project is not None and not (explicit is not None and os.path.realpath(explicit) == str(project)):
        from . import trust

        layers.append(Layer("project", project, trust.state(project).trusted if trusted is None else trusted))
    if explicit is not None:
        layers.append(Layer("--config", explicit, True))
    merged: dict = {}
    origins: dict[str, str] = {}
    ignored: list[str] = []
    for layer in layers:
        raw = layering.read(layer.path)
        if layer.origin == "project":
            raw, dropped = layering.narrow(raw, merged, layer.trusted, {*BUILTIN_PROVIDERS, *merged.get("providers", {})})
            ignored += dropped
        layering.merge(merged, raw, origins, str(layer.path))
    config = from_dict(merged, layers[-1].path if layers else None, origins)
    config.layers, config.ignored = tuple(layers), tuple(ignored)
    config.source, config.seen = (path, start, trusted), _seen(path, start)
    return config


def from_dict(raw: dict, path: Path | None = None, origins: dict[str, str] | None = None) -> Config:
    """Validate merged config `raw`; a mistake is named against the file (of `origins`) that set it."""
    checker = _Checker(str(path) if path else "config", origins or {})
    providers_raw = {name: dict(spec) for name, spec in BUILTIN_PROVIDERS.items()}
    for name, spec in checker.table(raw, "providers").items():
        spec = checker.table_value(spec, f"providers.{name}")
        checker.keys(spec, _PROVIDER_KEYS, f"providers.{name}")
        providers_raw[name] = {**providers_raw.get(name, {}), **spec}
    providers = {name: _provider(checker, name, spec) for name, spec in providers_raw.items()}

    routes_raw = {**DEFAULT_ROUTES, **checker.table(raw, "routes")}
    routes = {}
    for name, spec in routes_raw.items():
        spec = checker.table_value(spec, f"routes.{name}")
        checker.keys(spec, _ROUTE_KEYS, f"routes.{name}")
        models = spec.get("models")
        if not isinstance(models, list) or not models or not all(isinstance(m, str) and m for m in models):
            raise ConfigError(f'{checker.file(f"routes.{name}")}: routes.{name}.models must be a non-empty list of "provider/model" names')
        for m in models:
            if "/" not in m:
                raise ConfigError(f'{checker.file(f"routes.{name}")}: routes.{name}.models: {m!r} must be written "provider/model"')
            if m.split("/", 1)[0] not in providers:
                raise ConfigError(
                    f"{checker.file(f'routes.{name}')}: routes.{name}.models: no provider {m.split('/', 1)[0]!r} (known: "
                    f"{', '.join(sorted(providers))})"
                )
        routes[name] = RouteConfig(
            name=name,
            models=tuple(models),
            retries=checker.number(spec, "retries", f"routes.{name}", 1, integer=True),
            timeout=checker.number(spec, "timeout", f"routes.{name}", None, positive=True),
            deadline=checker.number(spec, "deadline", f"routes.{name}", 300.0, positive=True),
            max_retry_wait=checker.number(spec, "max_retry_wait", f"routes.{name}", 5.0),
            budget=_budget(checker, spec.get("budget", {}), f"routes.{name}.budget"),
            escalate=_escalation(spec.get("escalate"), name, routes_raw, providers, checker.file(f"routes.{name}")),
        )

    models = {}
    for name, spec in checker.table(raw, "models").items():
        spec = checker.table_value(spec, f"models.{name}")
        checker.keys(spec, _MODEL_KEYS, f"models.{name}")
        models[name] = ModelOverride(
            context_window=checker.number(spec, "context_window", f"models.{name}", None, integer=True),
            input_per_mtok=checker.number(spec, "input_per_mtok", f"models.{name}", None),
            output_per_mtok=checker.number(spec, "output_per_mtok", f"models.{name}", None),
            edit_format=checker.choice(spec, "edit_format", f"models.{name}", EDIT_FORMATS),
            cached_per_mtok=checker.number(spec, "cached_per_mtok", f"models.{name}", None),
        )
    extra = {k: v for k, v in raw.items() if k not in {"providers", "routes", "budget", "models"}}
    unknown = sorted(set(extra) - EXTRA_SECTIONS)
    if unknown:
        raise ConfigError(f"{checker.file(unknown[0])}: unknown section [{unknown[0]}] (sections: {', '.join(sorted(SECTIONS))})")
    return Config(
        path, providers, routes, _budget(checker, raw.get("budget", {}), "budget"), models, extra, origins=dict(origins or {}), raw=raw
    )


def plugin_kinds() -> dict:
    """Provider kinds that installed packages register (name -> entry point); read only when a
    config names a kind that is not built in, so start-up does not pay for the scan."""
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group=PROVIDER_ENTRY_POINTS)}


def _provider(checker: "_Checker", name: str, spec: dict) -> ProviderConfig:
    kind = spec.get("kind")
    if kind not in PROVIDER_KINDS and kind not in plugin_kinds():
        raise ConfigError(
            f"{checker.file(f'providers.{name}')}: providers.{name}.kind must be one of "
            f"{', '.join(PROVIDER_KINDS + tuple(plugin_kinds()))} (got {kind!r})"
        )
    for key in ("base_url", "api_key_env"):
        if spec.get(key) is not None and not isinstance(spec[key], str):
            raise ConfigError(f"{checker.file(f'providers.{name}')}: providers.{name}.{key} must be a string")
    if kind in ("openai", "anthropic") and not spec.get("base_url"):
        raise ConfigError(f"{checker.file(f'providers.{name}')}: providers.{name} needs a base_url")
    return ProviderConfig(
        name=name,
        kind=kind,
        base_url=spec.get("base_url"),
        api_key_env=spec.get("api_key_env"),
        timeout=checker.number(spec, "timeout", f"providers.{name}", 60.0, positive=True),
        headers=checker.table_value(spec.get("headers", {}), f"providers.{name}.headers"),
        options=checker.table_value(spec.get("options", {}), f"providers.{name}.options"),
    )


def _budget(checker: "_Checker", spec, at: str) -> Budget:
    spec = checker.table_value(spec, at)
    checker.keys(spec, _BUDGET_KEYS, at)
    return Budget(
        usd_per_day=checker.number(spec, "usd_per_day", at, None),
        usd_per_month=checker.number(spec, "usd_per_month", at, None),
        tokens_per_day=checker.number(spec, "tokens_per_day", at, None, integer=True),
        tokens_per_month=checker.number(spec, "tokens_per_month", at, None, integer=True),
    )


def _escalation(target, route: str, routes: dict, providers: dict, where: str) -> str | None:
    """A route's `escalate`: another route, or "provider/model" of a known provider."""
    if target is None:
        return None
    if not isinstance(target, str) or not target or target == route:
        raise ConfigError(f'{where}: routes.{route}.escalate must name another route or a "provider/model" (got {target!r})')
    provider, _, model = target.partition("/")
    if target not in routes and not (provider in providers and model):
        raise ConfigError(
            f"{where}: routes.{route}.escalate: {target!r} is neither a route ({', '.join(sorted(routes))}) "
            f"nor a model of a known provider ({', '.join(sorted(providers))})"
        )
    return target


def _origin(origins: dict[str, str], at: str, fallback: str) -> str:
    """The file that set `at` (a dotted key or a table) last, else `fallback`."""
    found = [o for k, o in origins.items() if k == at or k.startswith(at + ".")]
    return found[-1] if found else fallback


class _Checker:
    """Turns a wrong type or key into one line naming the file and the key."""

    def __init__(self, where: str, origins: dict[str, str]):
        self.where, self.origins = where, origins

    def file(self, at: str) -> str:
        return _origin(self.origins, at, self.where)

    def table(self, raw: dict, key: str) -> dict:
        return self.table_value(raw.get(key, {}), key)

    def table_value(self, value, at: str) -> dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{self.file(at)}: [{at}] must be a table")
        return value

    def keys(self, spec: dict, known: set, at: str) -> None:
        unknown = sorted(set(spec) - known)
        if unknown:
            raise ConfigError(f"{self.file(at)}: unknown key {unknown[0]!r} in [{at}] (known: {', '.join(sorted(known))})")

    def number(self, spec: dict, key: str, at: str, default, *, integer: bool = False, positive: bool = False):
        value = spec.get(key, default)
        if value is None:
            return None
        ok = isinstance(value, int) if integer else isinstance(value, (int, float))
        if not ok or isinstance(value, bool) or not math.isfinite(value) or value < 0 or (positive and value == 0):
            kind = "a whole number" if integer else "a number"
            raise ConfigError(f"{self.file(f'{at}.{key}')}: {at}.{key} must be {kind} {'> 0' if positive else '>= 0'} (got {value!r})")
        return value

    def choice(self, spec: dict, key: str, at: str, allowed: tuple[str, ...]):
        value = spec.get(key)
        if value is not None and value not in allowed:
            raise ConfigError(f"{self.file(f'{at}.{key}')}: {at}.{key} must be one of {', '.join(allowed)} (got {value!r})")
        return value
