"""What recipients and the mail provider tell us after sending: suppressions, preferences,
and SendGrid's event webhook. All of it is keyed by address, so a re-import never undoes it."""
