"""Template filters that put numbers into words and figures."""

from __future__ import annotations

import pytest

from leadloop.web.templatetags.leadloop_web import percent_figure


@pytest.mark.parametrize(
    ("probability", "shown"),
    [
        (None, ""),
        (0.0, "0"),
        (0.00004, "<0.01"),
        (0.0037, "0.37"),  # the demo's mean chance of becoming a customer
        (0.00995, "1.0"),
        (0.042, "4.2"),
        (0.0996, "10"),
        (0.31, "31"),
        (1.0, "100"),
    ],
)
def test_a_probability_keeps_the_digits_that_tell_leads_apart(probability, shown):
    assert percent_figure(probability) == shown
