"""Editions built and approved on the sample project, as the delivery tests use them."""

from tests.deliver.conftest import approved_edition

__all__ = ["approved_edition"]
