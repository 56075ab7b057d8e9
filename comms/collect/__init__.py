"""Collect: fetch the configured sources, parse, sanitise, and keep the item ledger."""
