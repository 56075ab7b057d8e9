"""A throwaway mailing kind, for the test that adding a kind takes one module: a weekly bulletin
for the Commissarissen van de Koning with the week's IPO news.

The test puts this file where the kinds live (comms/kinds/), next to a template folder
(templates/bulletin/) and a schedule file (schedules/bulletin.toml), and runs it end to end.
Nothing else in comms knows about it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from comms.config import Config, ItemKind
from comms.dates import local
from comms.kinds.base import BuildOutcome, BuildRequest, ListIdentity, PeriodicKind, render_checked
from comms.render.personalise import RecipientFields
from comms.service import Service
from comms.store.models import Item


class BulletinKind(PeriodicKind):
    key = "bulletin"
    label = "Weekbericht voor de Commissarissen van de Koning"
    template = "bulletin"
    period_format = "%G-W%V"  # one a week

    def list_identity(self, config: Config) -> ListIdentity:
        return ListIdentity("IPO-weekbericht voor CdK's", "weekbericht-cdk")

    def default_audience(self, config: Config) -> str:
        return "cdk"

    def edition_key(self, request: BuildRequest) -> str:
        return f"weekbericht-{self._week(request)}"

    def _week(self, request: BuildRequest) -> str:
        year, week, _ = local(request.send_at or request.now).isocalendar()
        return f"{year}-w{week:02d}"

    def build(self, service: Service, request: BuildRequest) -> BuildOutcome:
        """The five newest news items of the past week, rendered and saved as a draft."""
        since = request.now - timedelta(days=7)
        with service.db.session() as session:
            query = (
                select(Item.title)
                .where(Item.kind == ItemKind.NEWS, Item.published_at >= since)
                .order_by(Item.published_at.desc())
                .limit(5)
            )
            titles = list(session.scalars(query))
        week = int(self._week(request).rsplit("-w", 1)[1])
        context = {"bulletin": {"week": week, "titles": titles}, "recipient": RecipientFields()}
        rendered = render_checked(service, request.template or self.template, context)
        return self.save_draft(service, request, f"Weekbericht week {week}", rendered, f"{len(titles)} items")

    def sample_context(self, service: Service) -> dict[str, Any]:
        return {"bulletin": {"week": 1, "titles": ["Voorbeeldbericht"]}, "recipient": RecipientFields()}


KIND = BulletinKind()
