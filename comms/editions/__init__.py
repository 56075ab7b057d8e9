"""Editions of every kind: their life (lifecycle), their delivery, how the team sees them
(views) and test copies (proofs). The team's operations (comms.operations) call these."""
