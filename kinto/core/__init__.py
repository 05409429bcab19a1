"""See :mod:`kinto`."""
