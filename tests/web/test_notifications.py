"""The notification bell on every page and the /notifications/ list with mark-as-read (htmx);
in a real browser too (screenshots in artifacts/screenshots/)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from leadloop.accounts.models import Role
from leadloop.sla.models import Notification, SlaClock
from leadloop.sla.services import clocks_on_assignment
from leadloop.sla.sweep import sla_sweep
from tests.accounts.factories import UserFactory
from tests.leads.factories import LeadFactory
from tests.sla.factories import assign, mql, notification, person, sales_team, sla_agreement
from tests.web.conftest import SHOTS
from tests.web.helpers import figure, text

PASSWORD = "correct horse battery staple"


def _note(user: Any, n: int, *, read: bool = False, minutes_ago: int = 0) -> Notification:
    """A reminder about lead "Lead{n}"."""
    at = timezone.now() - dt.timedelta(minutes=minutes_ago)
    return notification(
        user, at=at, read=read, lead=LeadFactory(first_name=f"Lead{n}", last_name="", company=None)
    )


@pytest.mark.django_db
@pytest.mark.parametrize("page", ["web:dashboard", "web:lead_list", "web:tokens"])
def test_the_header_shows_the_unread_count_on_every_page(client, page):
    user = UserFactory()
    for n in range(3):
        _note(user, n, read=n == 0)
    _note(UserFactory(), 9)  # someone else's
    client.force_login(user)

    response = client.get(reverse(page))

    assert figure(response, "unread") == "2"
    assert "Notifications: 2 unread" in text(response)


@pytest.mark.django_db
def test_no_badge_when_everything_is_read(client):
    user = UserFactory()
    _note(user, 1, read=True)
    client.force_login(user)

    response = client.get(reverse("web:dashboard"))

    assert 'data-figure="unread"' not in text(response)
    assert 'data-unread="0"' in text(response)


@pytest.mark.django_db
def test_a_hundred_unread_show_as_99_plus(client):
    user = UserFactory()
    for _ in range(100):
        notification(user)
    client.force_login(user)

    assert figure(client.get(reverse("web:notifications")), "unread") == "99+"


@pytest.mark.django_db
def test_the_list_shows_the_newest_first_with_their_links(client):
    user = UserFactory()
    older = _note(user, 1, minutes_ago=30)
    _note(user, 2, minutes_ago=5, read=True)
    client.force_login(user)

    page = text(client.get(reverse("web:notifications")))

    assert page.index("Reminder: first response for Lead2") < page.index("for Lead1")
    lead_id = older.message.clock.lead_id
    assert f'<a href="/leads/{lead_id}/">Reminder: first response for Lead1 due ' in page
    assert page.count("Mark as read<") == 1


@pytest.mark.django_db
def test_an_empty_list_says_what_will_appear(client):
    client.force_login(UserFactory())

    page = text(client.get(reverse("web:notifications")))

    assert "Nothing to tell you yet" in page
    assert "Mark all as read" not in page


@pytest.mark.django_db
def test_marking_one_read_with_htmx_swaps_the_row_and_the_bell(client):
    user = UserFactory()
    first, _second = _note(user, 1), _note(user, 2)
    client.force_login(user)

    response = client.post(
        reverse("web:notification_read", args=[first.pk]), HTTP_HX_REQUEST="true"
    )

    first.refresh_from_db()
    assert first.read_at is not None
    page = text(response)
    assert f'id="notification-{first.pk}"' in page
    assert "Mark as read" not in page
    assert 'hx-swap-oob="true"' in page
    assert figure(response, "unread") == "1"


@pytest.mark.django_db
def test_marking_read_without_javascript_goes_back_to_the_list(client):
    user = UserFactory()
    note = _note(user, 1)
    client.force_login(user)

    response = client.post(reverse("web:notification_read", args=[note.pk]))

    assert response.status_code == 302
    assert response["Location"] == reverse("web:notifications")


@pytest.mark.django_db
def test_nobody_can_mark_someone_elses_notification(client):
    theirs = _note(UserFactory(), 1)
    client.force_login(UserFactory())

    response = client.post(reverse("web:notification_read", args=[theirs.pk]))

    theirs.refresh_from_db()
    assert response.status_code == 404
    assert theirs.read_at is None


@pytest.mark.django_db
def test_mark_all_as_read(client):
    user = UserFactory()
    for n in range(3):
        _note(user, n)
    other = _note(UserFactory(), 9)
    client.force_login(user)

    response = client.post(reverse("web:notification_read_all"), follow=True)

    assert "3 notifications marked as read." in text(response)
    assert not Notification.objects.filter(user=user, read_at__isnull=True).exists()
    other.refresh_from_db()
    assert other.read_at is None


@pytest.mark.django_db
def test_the_bell_alone_is_what_htmx_polls(client):
    user = UserFactory()
    _note(user, 1)
    client.force_login(user)

    response = client.get(reverse("web:notification_bell"))

    assert figure(response, "unread") == "1"
    assert 'hx-trigger="every 60s"' in text(response)


@pytest.mark.django_db
def test_signed_out_visitors_are_sent_to_sign_in(client):
    response = client.get(reverse("web:notifications"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("web:login"))


# --- In a real browser ---------------------------------------------------------------------------


def _sign_in(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_rep_sees_the_badge_opens_the_list_and_marks_a_reminder_read(browser, live_server):
    sla_agreement(reassign_on_breach=True)
    team = sales_team()
    rick = person("rick", team=team, first_name="Rick", last_name="Rep", email="rick@example.com")
    person("meg", role=Role.SALES_MANAGER, team=team, email="meg@example.com")
    for hours_ago in (14 * 24, 14 * 24 - 1, 3, 2, 1):
        with time_machine.travel(timezone.now() - dt.timedelta(hours=hours_ago), tick=False):
            clocks_on_assignment(assignment_id=assign(mql(), rick).pk)
    # The two old clocks are long overdue (escalated: Rick is told the leads went back to the
    # queue); the reminders of the three new ones fall due now, whatever day the test runs.
    SlaClock.objects.filter(owner=rick, due_at__gt=timezone.now()).update(
        remind_at=timezone.now() - dt.timedelta(minutes=1)
    )
    sla_sweep(now=timezone.now())
    unread = Notification.objects.filter(user=rick, read_at__isnull=True).count()
    assert unread == 5

    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    _sign_in(page, live_server.url, "rick")
    badge = page.locator("#notification-bell .bell__badge")
    assert badge.inner_text() == str(unread)
    page.screenshot(path=str(SHOTS / "notifications-badge.png"))

    page.locator("#notification-bell").click()
    page.wait_for_url(f"{live_server.url}/notifications/")
    page.screenshot(path=str(SHOTS / "notifications-list.png"), full_page=True)
    page.get_by_role("button", name="Mark as read").first.click()
    page.wait_for_function(
        f"document.querySelectorAll('.notification--unread').length === {unread - 1}"
    )
    assert page.locator("#notification-bell").get_attribute("data-unread") == str(unread - 1)
    assert badge.inner_text() == str(unread - 1)
    page.screenshot(path=str(SHOTS / "notifications-marked.png"), full_page=True)

    phone = browser.new_context(viewport={"width": 390, "height": 844})
    small = phone.new_page()
    _sign_in(small, live_server.url, "rick")
    small.goto(f"{live_server.url}/notifications/")
    small.screenshot(path=str(SHOTS / "notifications-phone.png"), full_page=True)
    context.close()
    phone.close()
