"""Optional features, each enabled by naming it in ``kinto.includes``."""
