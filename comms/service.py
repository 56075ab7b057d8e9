"""What every command needs, loaded and validated once: config, database, templates, rules.

The templates, themes and segments are imported when first asked for: `comms status` opens a
service too, and need not load Jinja or the address validator to count messages."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from comms.config import Config
from comms.errors import ConfigurationError
from comms.problems import Problem, ValidationFailed
from comms.store.database import Database
from comms.tokens import Signer

if TYPE_CHECKING:
    from comms.audience.segments import Segment
    from comms.compose.themes import ThemeMap
    from comms.render.templates import Templates


class MissingSecret(ConfigurationError):
    """A secret that must come from the environment is not set."""


@dataclass
class Service:
    config: Config
    db: Database

    @classmethod
    def open(cls, config: Config, migrate: bool = False) -> Service:
        """The service on the configured database: `migrate` brings its schema up to date (what
        `comms migrate` and the long-running processes do at start); otherwise the schema is only
        checked (one query; an empty database is created), and SchemaNotCurrent is raised when it
        is behind or ahead of this comms."""
        db = Database(config.database_url, config.base_dir)
        if migrate:
            db.migrate()
        else:
            db.check_schema()
        return cls(config, db)

    @cached_property
    def templates(self) -> Templates:
        from comms.render.templates import Templates

        return Templates(self.config.resolve(self.config.templates_dir))

    def themes(self) -> tuple[ThemeMap, list[Problem]]:
        from comms.compose.themes import load_theme_map

        return load_theme_map(self.config.resolve(self.config.themes_file))

    def segments(self) -> tuple[dict[str, Segment], list[Problem]]:
        from comms.audience.segments import load_segments

        return load_segments(self.config.resolve(self.config.segments_file))

    def segment(self, name: str, problems: list[Problem] | None = None) -> Segment:
        """The named segment; ValidationFailed when it is not defined or any problem so far
        (`problems`, to which the segment file's own are added) is an error."""
        problems = [] if problems is None else problems
        segments, found_problems = self.segments()
        problems += found_problems
        found = segments.get(name)
        if found is None:
            where = str(self.config.segments_file)
            problems.append(Problem(where, f"audience segment {name!r} is not defined"))
        if found is None or any(p.is_error for p in problems):
            raise ValidationFailed(problems)
        return found

    def signer(self) -> Signer:
        key = self.config.secret_key
        if not key:
            raise MissingSecret(
                "COMMS_SECRET_KEY is not set: it signs the unsubscribe and preference links "
                "(generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )
        return Signer(key)

    @property
    def outbox_dir(self) -> Path:
        return self.config.resolve(self.config.delivery.outbox_dir)
