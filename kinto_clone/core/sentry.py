"""Error reporting to Sentry, configured by Kinto's settings.

``kinto.sentry_dsn`` turns it on (the ``SENTRY_DSN`` environment variable wins over
the ini, as in Kinto; likewise ``SENTRY_ENV`` over ``kinto.sentry_env``).  Unhandled
errors are logged by the 500 error view with their traceback, so the logging
integration reports them: records at ``kinto.sentry_events_min_level`` (default
WARNING) and above become events, those at ``kinto.sentry_breadcrumbs_min_level``
(default DEBUG) and above breadcrumbs.  Levels are numbers or names.  As in Kinto,
one ``info`` message is sent when the application starts, to check the set-up.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from pyramid.config import Configurator
from pyramid.events import ApplicationCreated
from pyramid.exceptions import ConfigurationError


def log_level(name: str, value: Any) -> int:
    """``30``, ``"30"`` or ``"WARNING"`` -> 30."""
    text = str(value).strip()
    if text.isdigit():
        return int(text)
    level = logging.getLevelName(text.upper())
    if not isinstance(level, int):
        raise ConfigurationError(f"kinto.{name} = {value}: not a logging level")
    return level


def includeme(config: Configurator) -> None:
    settings = config.get_settings()
    dsn = os.environ.get("SENTRY_DSN") or settings["sentry_dsn"]
    if not dsn:
        return
    import sentry_sdk
    from sentry_sdk.integrations.logging import LoggingIntegration
    from sentry_sdk.integrations.pyramid import PyramidIntegration
    from sentry_sdk.integrations.sqlalchemy import SqlalchemyIntegration

    options: dict[str, Any] = {}
    environment = os.environ.get("SENTRY_ENV") or settings["sentry_env"]
    if environment:
        options["environment"] = environment
    logging_integration = LoggingIntegration(
        breadcrumb_level=log_level(
            "sentry_breadcrumbs_min_level", settings["sentry_breadcrumbs_min_level"]
        ),
        event_level=log_level("sentry_events_min_level", settings["sentry_events_min_level"]),
    )
    try:
        sentry_sdk.init(
            dsn,
            integrations=[PyramidIntegration(), SqlalchemyIntegration(), logging_integration],
            **options,
        )
    except sentry_sdk.utils.BadDsn as error:
        raise ConfigurationError(f"kinto.sentry_dsn: {error}") from error
    message = f"Running {settings['project_name']} {config.registry.project_version}."

    def announce_start(event: ApplicationCreated) -> None:
        sentry_sdk.capture_message(message, "info")

    config.add_subscriber(announce_start, ApplicationCreated)
