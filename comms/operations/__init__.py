"""The service layer: every operation the communications team performs, as a function.

Each takes the `Service` (configuration and database) and returns an outcome value; bad
input raises `ValidationFailed` with every problem, other refusals a `CommsError`. The front
ends (the CLI, the demo, the scheduler's jobs, the web app) call only these, and nothing
here knows which front end asked:

- `audience`: import the contact exports
- `sources`: collect the feeds
- `editions`: build, preview, test-send, approve, hold, discard, schedule the send, send now,
  status, and start what is due
- `agenda`: the agenda notices' plan, the notices and the digest
- `surveys`: start a round, remind, status, results
- `suppressions`: list, add and lift suppressions
- `recipients`: what a recipient does from a link (unsubscribe, preferences, web version)
- `checks`: validate everything before anything is due
- `schedules`: the scheduled jobs and what the scheduler did
"""
