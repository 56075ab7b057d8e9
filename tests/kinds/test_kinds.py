"""The mailing kinds: one object each, registered in one place, each answering for itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from comms import kinds
from comms.audience.profile import Profile
from comms.config import load_config
from comms.kinds import PeriodicKind, TriggeredKind, UnknownKind
from comms.service import Service

REPO = Path(__file__).resolve().parents[2]
KPS_IN_UTRECHT = Profile("Utrecht", is_av_member=False, themes=None, is_kps=True)
AV_MEMBER = Profile("Utrecht", is_av_member=True, themes=frozenset({"landelijk-gebied"}))


@pytest.fixture(scope="module")
def service() -> Service:
    config, problems = load_config(REPO / "comms.toml")
    assert config, problems
    return Service(config, db=None)  # type: ignore[arg-type]  # nothing here reads the database


def test_the_package_finds_the_four_kinds_in_listing_order() -> None:
    assert kinds.all_keys() == ("newsletter", "agenda-notice", "agenda-digest", "survey")


@pytest.mark.parametrize(
    ("key", "label", "list_id", "strategy", "period", "forward_safe", "web_version"),
    [
        (
            "newsletter",
            "Maandelijkse nieuwsbrief voor Statenleden",
            "nieuwsbrief-statenleden",
            PeriodicKind,
            "%Y-%m",
            False,
            True,
        ),
        (
            "agenda-notice",
            "Agendabericht voor de GS-vergadering",
            "agendaberichten",
            TriggeredKind,
            None,
            False,
            False,
        ),
        (
            "agenda-digest",
            "Wekelijks agendaoverzicht voor griffies",
            "agendaoverzicht",
            PeriodicKind,
            "%G-W%V",
            True,
            False,
        ),
        ("survey", "Evaluatie van het pamflet", "evaluaties", TriggeredKind, None, False, False),
    ],
)
def test_each_kind_answers_for_itself(
    service: Service,
    key: str,
    label: str,
    list_id: str,
    strategy: type,
    period: str | None,
    forward_safe: bool,
    web_version: bool,
) -> None:
    kind = kinds.find(key)
    assert kind.key == key and kind.label == label
    assert kind.list_identity(service.config).id == list_id
    assert isinstance(kind, strategy)
    assert kind.period_format == period
    assert kind.forward_safe is forward_safe
    assert kind.has_web_version is web_version


@pytest.mark.parametrize(
    ("key", "profile", "blocks"),
    [
        ("newsletter", AV_MEMBER, {"av", "provincie:utrecht", "thema:landelijk-gebied"}),
        ("agenda-notice", KPS_IN_UTRECHT, {"in-kopie"}),  # the provinciesecretaris reads it in copy
        ("agenda-notice", AV_MEMBER, set()),
        ("agenda-digest", KPS_IN_UTRECHT, set()),  # forward-safe: the same for everyone
        ("survey", AV_MEMBER, set()),
    ],
)
def test_each_kind_chooses_its_own_blocks(key: str, profile: Profile, blocks: set[str]) -> None:
    assert kinds.find(key).blocks(profile) == blocks


@pytest.mark.parametrize("key", ["newsletter", "agenda-notice", "agenda-digest", "survey"])
def test_each_kinds_template_renders_its_sample(service: Service, key: str) -> None:
    assert kinds.find(key).check_template(service) == []


@pytest.mark.parametrize(
    ("key", "stored", "form"),
    [
        ("newsletter", "statenleden", "SegmentAudience"),
        ("agenda-digest", "griffies", "SegmentAudience"),
        ("agenda-notice", "agenda:utrecht:bac-landelijk-gebied", "NoticeAudience"),
        ("survey", "survey:2026-H2:1", "InviteesAudience"),
    ],
)
def test_each_kind_reads_its_own_stored_audience(key: str, stored: str, form: str) -> None:
    audience = kinds.find(key).audience(stored)
    assert type(audience).__name__ == form
    assert audience.stored == stored


@pytest.mark.parametrize(
    ("key", "stored"),
    [("agenda-notice", "statenleden"), ("survey", "agenda:utrecht:av"), ("survey", "survey:2026-H2")],
)
def test_an_audience_of_another_form_is_an_error(key: str, stored: str) -> None:
    with pytest.raises(ValueError, match="not a"):
        kinds.find(key).audience(stored)


def test_an_unknown_kind_is_an_error_never_the_newsletter() -> None:
    with pytest.raises(UnknownKind, match="unknown mailing kind 'reclame' \\(known: newsletter, "):
        kinds.find("reclame")


def test_a_registered_kind_is_known_inside_the_block_only() -> None:
    class Flyer(PeriodicKind):
        key = "flyer"
        label = "Flyer"
        template = "flyer"

        def list_identity(self, config):  # type: ignore[no-untyped-def]
            raise NotImplementedError

        def edition_key(self, request):  # type: ignore[no-untyped-def]
            return "flyer"

        def build(self, service, request):  # type: ignore[no-untyped-def]
            raise NotImplementedError

        def sample_context(self, service):  # type: ignore[no-untyped-def]
            return {}

    with kinds.registered(Flyer()) as flyer:
        assert kinds.find("flyer") is flyer
        assert kinds.all_keys()[-1] == "flyer"  # listed after the built-in ones
    with pytest.raises(UnknownKind):
        kinds.find("flyer")
