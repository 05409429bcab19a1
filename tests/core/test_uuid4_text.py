"""Record ids and request ids: UUID4s as ``uuid.uuid4()`` writes them."""

from __future__ import annotations

import uuid

from kinto_clone.core.storage.generators import UUID4, uuid4_text


def test_they_are_random_version_4_uuids_in_canonical_form() -> None:
    made = [uuid4_text() for _ in range(2000)]
    assert len(set(made)) == len(made)
    for text in made:
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122
    # Every variant digit appears: the two random bits beside it are kept.
    assert {text[19] for text in made} == set("89ab")


def test_the_default_generator_makes_ids_it_accepts() -> None:
    generator = UUID4()
    assert all(generator.match(generator()) for _ in range(100))
