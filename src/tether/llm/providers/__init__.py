"""One module per wire protocol. A provider turns a Request into a Response (or a stream of
text chunks ending in a Response) and raises only errors from `tether.errors`."""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator

from ...config import ProviderConfig, plugin_kinds
from ...errors import ConfigError, MissingKey
from ..types import Request, Response

_MODULES = {"openai": "openai", "anthropic": "anthropic", "local": "local", "scripted": "scripted", "pool": "pool"}


class Provider:
    reports_progress = False  # True where the provider calls Request.progress itself (the local model reads and writes in view)

    def __init__(self, cfg: ProviderConfig):
        self.cfg = cfg
        self.name = cfg.name

    def complete(self, req: Request) -> Response:
        raise NotImplementedError

    def stream(self, req: Request) -> Iterator[str | Response]:
        """Text chunks, then the final Response. Providers without streaming yield it whole."""
        response = self.complete(req)
        if response.text:
            yield response.text
        yield response

    def context_window(self, model: str) -> int | None:
        """Tokens a call to `model` may hold, where the provider itself decides it (None: the catalogue's)."""
        return None

    def availability(self, model: str) -> str | None:
        """None if `model` can be called now, else one line saying what is missing."""
        if self.cfg.api_key_env and not os.environ.get(self.cfg.api_key_env):
            return f"set {self.cfg.api_key_env}"
        return None

    def api_key(self) -> str | None:
        if not self.cfg.api_key_env:
            return None
        key = os.environ.get(self.cfg.api_key_env)
        if not key:
            raise MissingKey(
                f"{self.name}: the environment variable {self.cfg.api_key_env} is not set; export it, or choose another model (see "
                "`tether models`)"
            )
        return key

    def close(self) -> None:
        pass


def create(cfg: ProviderConfig) -> Provider:
    """The provider of `cfg.kind`: built in, else registered by a package (see config.plugin_kinds)."""
    if cfg.kind in _MODULES:
        return importlib.import_module(f"{__name__}.{_MODULES[cfg.kind]}").PROVIDER(cfg)
    plugin = plugin_kinds()[cfg.kind].load()
    if not (isinstance(plugin, type) and issubclass(plugin, Provider)):
        raise ConfigError(f"the provider kind {cfg.kind!r} does not name a tether Provider class")
    return plugin(cfg)
