"""An approved newsletter for a few synthetic Statenleden (tests/deliver's factory), shared here."""

from tests.deliver.conftest import approved_edition

__all__ = ["approved_edition"]
