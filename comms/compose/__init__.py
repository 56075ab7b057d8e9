"""Compose: choose and group the items of an edition."""
