"""Small plugins loaded by tests through ``kinto.includes``."""
