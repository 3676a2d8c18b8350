"""Sales regions as sets of ISO 3166-1 alpha-2 country codes, for territory rules.

A territory rule names countries (``DE``) and/or regions (``DACH``); a region is one of
``REGIONS`` below, matched case-insensitively. The table lives in ``common`` because both the
agreement (which refuses a rule naming an unknown region) and routing (which matches leads
against regions) read it, and ``agreements`` sits above ``routing`` in the app chain. The sets follow the usual sales split: EMEA is
Europe, the Middle East, Africa and the former Soviet states; the Americas are North America
(the US, Canada and their territories) plus Latin America (Mexico, Central and South America,
the Caribbean); APAC is Asia and the Pacific. Every code is checked against ``pycountry`` when
this module is imported, so a typo cannot hide in a region.
"""

from __future__ import annotations

from typing import Final

import pycountry


def _codes(text: str) -> frozenset[str]:
    return frozenset(text.split())


DACH: Final = _codes("DE AT CH")
NORDICS: Final = _codes("DK FI IS NO SE FO AX")
BENELUX: Final = _codes("BE NL LU")
EUROPE: Final = _codes(
    "AD AL AT AX BA BE BG BY CH CY CZ DE DK EE ES FI FO FR GB GG GI GR HR HU IE IM IS IT JE LI "
    "LT LU LV MC MD ME MK MT NL NO PL PT RO RS RU SE SI SJ SK SM UA VA"
)
MIDDLE_EAST: Final = _codes("AE BH IL IQ IR JO KW LB OM PS QA SA SY TR YE")
AFRICA: Final = _codes(
    "AO BF BI BJ BW CD CF CG CI CM CV DJ DZ EG EH ER ET GA GH GM GN GQ GW KE KM LR LS LY MA MG "
    "ML MR MU MW MZ NA NE NG RE RW SC SD SH SL SN SO SS ST SZ TD TG TN TZ UG YT ZA ZM ZW"
)
# The Caucasus and Central Asia are usually sold from the EMEA office.
CAUCASUS_CENTRAL_ASIA: Final = _codes("AM AZ GE KZ KG TJ TM UZ")
EMEA: Final = EUROPE | MIDDLE_EAST | AFRICA | CAUCASUS_CENTRAL_ASIA

NORTH_AMERICA: Final = _codes("US CA PR VI UM PM BM GL")
LATAM: Final = _codes(
    "MX BZ CR SV GT HN NI PA "
    "AG AI AW BB BL BQ BS CU CW DM DO GD GP HT JM KN KY LC MF MQ MS SX TC TT VC VG "
    "AR BO BR CL CO EC FK GF GS GY PE PY SR UY VE"
)
AMERICAS: Final = NORTH_AMERICA | LATAM

APAC: Final = _codes(
    "AF BD BT IN LK MV NP PK "
    "CN HK JP KP KR MN MO TW "
    "BN KH ID LA MM MY PH SG TH TL VN "
    "AS AU CC CK CX FJ FM GU HM IO KI MH MP NC NF NR NU NZ PF PG PN PW SB TK TO TV VU WF WS"
)

REGIONS: Final[dict[str, frozenset[str]]] = {
    "EMEA": EMEA,
    "EUROPE": EUROPE,
    "DACH": DACH,
    "NORDICS": NORDICS,
    "BENELUX": BENELUX,
    "MIDDLE_EAST": MIDDLE_EAST,
    "AFRICA": AFRICA,
    "NA": NORTH_AMERICA,
    "NORTH_AMERICA": NORTH_AMERICA,
    "AMERICAS": AMERICAS,
    "LATAM": LATAM,
    "APAC": APAC,
}


def region_countries(name: str) -> frozenset[str] | None:
    """The country codes of the region called `name` (any case), or None for an unknown name."""
    return REGIONS.get(name.strip().upper().replace(" ", "_").replace("-", "_"))


def regions_of(country: str) -> list[str]:
    """The names of the regions that contain `country` (an ISO alpha-2 code, any case)."""
    code = country.strip().upper()
    return [name for name, codes in REGIONS.items() if code in codes]


def _check() -> None:
    known = {c.alpha_2 for c in pycountry.countries}
    for name, codes in REGIONS.items():
        unknown = sorted(codes - known)
        if unknown:  # pragma: no cover - a typo in the tables above
            raise ValueError(f"Region {name}: {', '.join(unknown)} are not ISO 3166-1 codes.")


_check()
