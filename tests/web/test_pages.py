import re

import pytest
from django.urls import reverse

from leadloop.accounts.models import Role
from tests.accounts.factories import UserFactory
from tests.leads.factories import LeadFactory
from tests.web.helpers import text

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"


@pytest.mark.parametrize(
    "url",
    ["/", "/leads/", "/leads/search/?q=a", "/leads/1/", "/settings/tokens/"],
)
def test_pages_need_a_signed_in_user(client, url):
    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith(f"{reverse('web:login')}?next=")


def test_signing_in_leads_to_the_dashboard(client):
    UserFactory(username="mara", role=Role.MARKETING_OPS)

    response = client.post(
        reverse("web:login"), {"username": "mara", "password": PASSWORD}, follow=True
    )

    assert response.redirect_chain[-1][0] == reverse("web:dashboard")
    assert "Marketing overview" in text(response)


def test_a_wrong_password_is_explained(client):
    UserFactory(username="mara")

    response = client.post(reverse("web:login"), {"username": "mara", "password": "nope"})

    assert response.status_code == 200
    assert "Please enter a correct username and password" in text(response)


def test_signing_out_takes_a_post_and_returns_to_sign_in(client):
    client.force_login(UserFactory())

    refused = client.get(reverse("web:logout"))
    response = client.post(reverse("web:logout"))

    assert refused.status_code == 405
    assert response["Location"] == reverse("web:login")
    assert client.get("/").status_code == 302


@pytest.mark.parametrize(
    ("role", "links"),
    [
        (Role.SALES_REP, ["Inbox", "Leads", "Agreement", "API tokens", "Out of office"]),
        (
            Role.SALES_MANAGER,
            [
                "Dashboard",
                "Leads",
                "Agreement",
                "SLA compliance",
                "Duplicates",
                "Routing",
                "API tokens",
                "Out of office",
            ],
        ),
        (
            Role.MARKETING_OPS,
            [
                "Dashboard",
                "Leads",
                "Agreement",
                "SLA compliance",
                "Duplicates",
                "Forms",
                "Imports",
                "Scoring",
                "Predictive model",
                "Webhooks",
                "API tokens",
            ],
        ),
        (
            Role.REVENUE_LEADER,
            [
                "Dashboard",
                "Leads",
                "Agreement",
                "SLA compliance",
                "Predictive model",
                "Routing",
                "API tokens",
            ],
        ),
    ],
)
def test_the_navigation_follows_the_role_and_every_link_works(client, role, links):
    client.force_login(UserFactory(role=role))

    page = text(client.get("/"))

    nav = page[
        page.index('<nav class="sidenav"') : page.index(
            "</nav>", page.index('<nav class="sidenav"')
        )
    ]
    labels = [
        re.sub(r"<[^>]+>", "", m).strip()
        for m in re.findall(r'class="sidenav__link".*?>(.*?)</a>', nav, re.S)
    ]
    assert labels == links
    for href in re.findall(r'class="sidenav__link" href="([^"]+)"', nav):
        assert client.get(href).status_code == 200, href


def test_no_page_loads_anything_from_another_host(client):
    user = UserFactory(is_staff=True)
    lead = LeadFactory()
    client.force_login(user)
    pages = ["/", "/leads/", lead.get_absolute_url(), "/settings/tokens/", "/leads/search/?q=a"]

    for url in [*pages, reverse("web:login")]:
        if url == reverse("web:login"):
            client.logout()
        page = text(client.get(url))
        tags = re.findall(r"<(?:script|link|img|iframe)\b[^>]*>", page, re.I)
        external = [t for t in tags if re.search(r'(?:src|href)="(?:https?:)?//', t)]
        assert external == [], url
