from __future__ import annotations

from pathlib import Path

import pytest

from comms.audience.segments import Segment, load_segments

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "audiences" / "segments.toml"


def write_toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "segments.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_filters_are_normalised_on_load(tmp_path: Path) -> None:
    path = write_toml(
        tmp_path,
        """
        [segments.noorden]
        description = "GS en Staten in het noorden"
        roles = ["GS", "Statenleden"]
        provinces = ["friesland", "Groningen"]
        themes = ["Landelijk Gebied", "financien"]
        exclude_roles = ["ipo-staff"]
        """,
    )
    segments, problems = load_segments(path)
    assert problems == []
    assert segments == {
        "noorden": Segment(
            name="noorden",
            description="GS en Staten in het noorden",
            roles=frozenset({"gedeputeerde", "statenlid"}),
            provinces=frozenset({"Fryslân", "Groningen"}),
            themes=frozenset({"landelijk-gebied", "financien-openbaar-bestuur"}),
            exclude_roles=frozenset({"ipo-staff"}),
        )
    }


KNOWN_KEYS = "description, roles, provinces, themes, exclude_roles"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            '[segments.gs]\nroles = ["gedeputeerde"]\ndescription = \n',
            ["line 3: not valid TOML: Invalid value (column 15)"],
            id="syntax error",
        ),
        pytest.param(
            '[segments.gs]\nroles = ["gedeputeerde"\ndescription = "GS"\n',
            ["line 3: not valid TOML: Unclosed array (column 1)"],
            id="unclosed list",
        ),
        pytest.param(
            '\n[segments.gs]\nrole = ["gedeputeerde"]\n',
            [f"line 3 [gs]: unknown key 'role' (did you mean 'roles'? expected one of: {KNOWN_KEYS})"],
            id="unknown key",
        ),
        pytest.param(
            'title = "x"\n[segments.gs]\nroles = ["gedeputeerde"]\n',
            ["line 1 [title]: unknown key 'title' (expected [segments.NAME] tables)"],
            id="unknown top-level key",
        ),
        pytest.param(
            '[segments.gs]\nroles = ["gedeputeerde", "wethouder"]\n',
            ["line 2 [gs]: roles: unknown role 'wethouder'"],
            id="unknown role",
        ),
        pytest.param(
            '[segments.noord]\nprovinces = ["Frieslandd"]\n',
            ["line 2 [noord]: provinces: unknown province 'Frieslandd'"],
            id="unknown province",
        ),
        pytest.param(
            '[segments.sport]\nthemes = ["Sport"]\nexclude_roles = ["wethouder"]\n',
            [
                "line 2 [sport]: themes: unknown theme 'Sport'",
                "line 3 [sport]: exclude_roles: unknown role 'wethouder'",
            ],
            id="every problem of a segment",
        ),
        pytest.param(
            '[segments.gs]\nroles = "gedeputeerde"\n',
            ['line 2 [gs]: roles must be a list of text, e.g. roles = ["..."]'],
            id="not a list",
        ),
        pytest.param(
            '[segments.gs]\nroles = ["gs"]\nexclude_roles = ["gedeputeerde"]\n',
            ["line 3 [gs]: role 'gedeputeerde' is in both roles and exclude_roles"],
            id="contradiction",
        ),
    ],
)
def test_problems_name_line_segment_and_reason(tmp_path: Path, text: str, expected: list[str]) -> None:
    path = write_toml(tmp_path, text)
    segments, problems = load_segments(path)
    assert [str(p) for p in problems] == [f"{path}, {e}" for e in expected]
    assert not {p.subject for p in problems} & set(segments)  # a segment with a problem is out


def test_a_bad_segment_does_not_hide_the_good_ones(tmp_path: Path) -> None:
    path = write_toml(tmp_path, '[segments.cdk]\nroles = ["cdk"]\n\n[segments.gs]\nroles = ["wethouder"]\n')
    segments, problems = load_segments(path)
    assert list(segments) == ["cdk"]
    assert [str(p) for p in problems] == [f"{path}, line 5 [gs]: roles: unknown role 'wethouder'"]


# --- the shipped segments against the sample audience ---------------------------------
