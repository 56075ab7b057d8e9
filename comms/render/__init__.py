"""Render: fill templates, compile MJML once per variant, personalise per recipient."""
