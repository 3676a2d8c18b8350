"""Sales regions: every country in one of EMEA, Americas, APAC; names in any case."""

from __future__ import annotations

import pycountry
import pytest

from leadloop.common.regions import AMERICAS, APAC, EMEA, REGIONS, region_countries, regions_of


def test_every_country_belongs_to_exactly_one_of_emea_americas_and_apac():
    countries = {c.alpha_2 for c in pycountry.countries}

    covered = EMEA | AMERICAS | APAC

    # Antarctica and uninhabited islands belong to no sales region.
    assert countries - covered == {"AQ", "BV", "TF"}
    assert not (EMEA & AMERICAS)
    assert not (EMEA & APAC)
    assert not (AMERICAS & APAC)


@pytest.mark.parametrize(
    ("region", "inside", "outside"),
    [
        ("DACH", "CH", "FR"),
        ("nordics", "NO", "DE"),
        ("NA", "CA", "MX"),
        ("LATAM", "MX", "US"),
        ("Americas", "BR", "ES"),
        ("APAC", "SG", "AE"),
        ("EMEA", "AE", "IN"),
    ],
)
def test_regions_are_matched_by_name_in_any_case(region, inside, outside):
    codes = region_countries(region)

    assert codes is not None
    assert inside in codes
    assert outside not in codes


def test_an_unknown_region_is_none_and_a_country_lists_its_regions():
    assert region_countries("Atlantis") is None
    assert regions_of("at") == ["EMEA", "EUROPE", "DACH"]
    assert set(REGIONS) >= {"EMEA", "DACH", "NORDICS", "NA", "AMERICAS", "LATAM", "APAC"}
