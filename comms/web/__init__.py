"""The web app: recipients' pages (afmelden, voorkeuren, web version) and SendGrid's webhook."""

from comms.web.app import create_app

__all__ = ["create_app"]
