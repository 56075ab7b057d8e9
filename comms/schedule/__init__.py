"""Scheduled jobs: their definitions in schedules/*.toml and the scheduler that runs them."""
