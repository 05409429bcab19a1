"""See :mod:`kinto`. Kinto's logging classes, as its ini files name them."""

from kinto_clone.core.logs import JsonLogFormatter, StreamHandlerWithRequestID

__all__ = ["JsonLogFormatter", "StreamHandlerWithRequestID"]
