"""A mapping that cannot work is refused before any row is read, naming the key or line."""

from __future__ import annotations

import pytest

from leadloop.capture.imports.errors import MappingInvalid
from leadloop.capture.imports.mapping import mapping_load, mapping_parse
from leadloop.leads.models import Stage


def test_bad_toml_is_refused_naming_the_line():
    text = '[fields]\nemail = "Email"\nfirst_name = "First\n'

    with pytest.raises(MappingInvalid, match=r"not valid TOML: .*line 3"):
        mapping_parse(text, name="broken.toml")


def test_an_unknown_leadloop_field_is_refused_naming_the_key():
    text = '[fields]\nemail = "Email"\nfavourite_colour = "Colour"\n'

    with pytest.raises(
        MappingInvalid, match=r"\[fields\]\.favourite_colour is not a Leadloop field"
    ):
        mapping_parse(text)


def test_a_mapping_without_identity_is_refused():
    with pytest.raises(MappingInvalid, match="needs `email` or `external_id`"):
        mapping_parse('[fields]\nfirst_name = "First"\n')


def test_a_stage_translation_to_no_stage_is_refused():
    text = '[fields]\nemail = "E"\nstage = "S"\n[values.stage]\n"Lost Lead" = "lost"\n'

    with pytest.raises(MappingInvalid, match=r"\[values.stage\] 'Lost Lead' = 'lost': not a stage"):
        mapping_parse(text)


def test_an_unknown_attribute_type_is_refused():
    text = '[fields]\nemail = "E"\n[attributes]\nsize = {column = "Size", type = "money"}\n'

    with pytest.raises(MappingInvalid, match=r"\[attributes\].size.type 'money' is not one of"):
        mapping_parse(text)


def test_an_unknown_delimiter_is_refused():
    with pytest.raises(MappingInvalid, match=r"\[source\].delimiter '\|\|'"):
        mapping_parse('[source]\ndelimiter = "||"\n[fields]\nemail = "E"\n')


def test_a_missing_mapping_file_is_named():
    with pytest.raises(MappingInvalid, match=r"'nope\.toml' is neither a preset"):
        mapping_load("nope.toml")


def test_the_hubspot_preset_maps_its_lifecycle_dates():
    mapping = mapping_load("hubspot")

    assert mapping.fields["email"] == "Email"
    assert mapping.fields["mql_at"] == "Became a Marketing Qualified Lead Date"
    assert mapping.values["stage"]["Marketing Qualified Lead"] == Stage.MQL


def test_the_salesforce_preset_maps_its_lead_export():
    mapping = mapping_load("salesforce")

    assert mapping.fields["external_id"] == "Lead ID"
    assert mapping.fields["stage"] == "Lead Status"
    assert mapping.outcome is None or mapping.outcome.column == "Converted"
