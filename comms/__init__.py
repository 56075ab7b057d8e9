"""comms: communications automation for the IPO (Interprovinciaal Overleg)."""

__version__ = "0.1.0"
