"""The deliver tests' approved edition, for the bounce flows that end in a next edition."""

from tests.deliver.conftest import approved_edition  # noqa: F401  (a fixture, used by name)
