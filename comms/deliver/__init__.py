"""Deliver: the message ledger's queue and the transports behind one interface."""
