"""Half-yearly evaluation surveys: definitions, rounds, responses and results."""
