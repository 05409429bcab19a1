"""A third-party metrics plugin: records every measurement, as a Kinto plugin would."""

from typing import Any

from pyramid.config import Configurator


class RecordingService:
    """Kinto's metrics interface; its timer is a plain context manager."""

    def __init__(self) -> None:
        self.records: list[tuple[str, str, Any, tuple]] = []
        self.batches: list[str] = []

    def timer(self, key: str, value: float | None = None, labels=()) -> Any:
        if value is not None:
            self.records.append(("timer", key, value, tuple(labels)))
            return None
        return _Timer(self, key, tuple(labels))

    def observe(self, key: str, value: float, labels=()) -> None:
        self.records.append(("observe", key, value, tuple(labels)))

    def count(self, key: str, count: int = 1, unique=None) -> None:
        self.records.append(("count", key, count, tuple(unique or ())))

    def start_batch(self) -> None:
        self.batches.append("start")

    def flush(self) -> None:
        self.batches.append("flush")


class _Timer:
    def __init__(self, service: RecordingService, key: str, labels: tuple) -> None:
        self.service, self.key, self.labels = service, key, labels

    def __call__(self, function):
        def timed(*args, **kwargs):
            try:
                return function(*args, **kwargs)
            finally:
                self.service.records.append(("timer", self.key, None, self.labels))

        return timed

    def __enter__(self) -> "_Timer":
        return self

    def __exit__(self, *exc_info) -> None:
        self.service.records.append(("timer", self.key, None, self.labels))


def includeme(config: Configurator) -> None:
    config.registry.recording_metrics = RecordingService()
    config.add_metrics_service(config.registry.recording_metrics)
