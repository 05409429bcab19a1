"""The id-generator registry: one generator per object type, from settings.

``kinto.id_generator`` is the default for every type; ``kinto.<type>_id_generator``
overrides it for one type.  Each value is a dotted path to a
:class:`~kinto_clone.core.storage.generators.Generator` subclass (users' own
modules included, as in Kinto's "custom ID generator" tutorial).
"""

from __future__ import annotations

from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationError

from kinto_clone.core import dotted
from kinto_clone.core.storage.generators import Generator

SUFFIX = "_id_generator"
RECORD_SETTING = "record_id_generator"


class IdGenerators:
    """Generators by object type, with the default for unlisted types."""

    def __init__(self, default: Generator, by_type: dict[str, Generator]) -> None:
        self.default = default
        self.by_type = by_type

    def for_type(self, resource_name: str) -> Generator:
        return self.by_type.get(resource_name, self.default)


def _load(config: Configurator, setting: str, name: str) -> Generator:
    factory = dotted.resolve_setting(f"kinto.{setting}", name)
    generator = factory(config=config) if isinstance(factory, type) else factory
    if not isinstance(generator, Generator) or not callable(generator):
        raise ConfigurationError(f"kinto.{setting} = {name} is not an id generator")
    return generator


def setup_id_generators(config: Configurator) -> None:
    settings = config.get_settings()
    given = config.registry.raw_settings

    def explicitly_set(name: str) -> bool:
        return f"kinto.{name}" in given or name in given

    default = _load(config, "id_generator", settings["id_generator"])
    by_type: dict[str, Generator] = {}
    for key, value in settings.items():
        if key.startswith("kinto.") or not key.endswith(SUFFIX) or key == "id_generator":
            continue
        # Kinto 26.5.0 keeps RelaxedUUID for records even when ``kinto.id_generator``
        # is set, contradicting its own tutorial (which shows 8-character record
        # ids).  Here an explicit ``kinto.id_generator`` replaces the record
        # default; buckets, collections and groups keep their name generators so
        # ``/buckets/default/collections/tasks`` still works.
        if key == RECORD_SETTING and explicitly_set("id_generator") and not explicitly_set(key):
            continue
        by_type[key[: -len(SUFFIX)]] = _load(config, key, value)
    config.registry.id_generators = IdGenerators(default, by_type)
