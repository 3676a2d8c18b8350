"""The left navigation by role. Only pages that exist are linked."""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse

from leadloop.accounts.models import Role, User
from leadloop.loop.merge import MERGE_ROLES
from leadloop.routing.selectors import ROUTING_PAGE_ROLES
from leadloop.webhooks.selectors import can_manage_webhooks


@dataclass(frozen=True)
class NavItem:
    label: str
    url: str
    icon: str  # the name of a symbol in the base template's sprite
    active: bool


# (label, url name, icon, the url names that mark it active)
_HOME_LABEL: dict[str, str] = {Role.SALES_REP: "Inbox"}
_LEADS_PAGES = frozenset({"lead_list", "lead_detail"})
_FORMS_PAGES = frozenset({"form_list", "form_new", "form_edit"})
_DUPLICATES_PAGES = frozenset({"duplicate_list", "duplicate_compare"})
_IMPORT_PAGES = frozenset({"import_list", "import_new", "import_detail"})
_SCORING_PAGES = frozenset({"scoring_fit", "scoring_engagement"})
_MODEL_ROLES = frozenset({Role.MARKETING_OPS, Role.REVENUE_LEADER, Role.ADMIN})
_ROUTING_PAGES = frozenset({"routing"})
# Whose absences routing (and the SLA clocks) take into account.
_AWAY_ROLES = frozenset({Role.SALES_REP, Role.SALES_MANAGER, Role.ADMIN})
_SLA_ROLES = frozenset({Role.SALES_MANAGER, Role.MARKETING_OPS, Role.REVENUE_LEADER, Role.ADMIN})
_AGREEMENT_PAGES = frozenset(
    {
        "agreement",
        "agreement_history",
        "agreement_version",
        "agreement_draft_new",
        "agreement_draft_edit",
    }
)
_WEBHOOK_PAGES = frozenset(
    {"webhook_list", "webhook_new", "webhook_log", "webhook_edit", "webhook_delivery"}
)


def nav_for(user: User, current: str) -> list[NavItem]:
    """The main navigation of `user`, with the item for the page `current` marked active."""
    items = [
        NavItem(
            _HOME_LABEL.get(user.role, "Dashboard"),
            reverse("web:dashboard"),
            "inbox" if user.role == Role.SALES_REP else "home",
            current == "dashboard",
        ),
        NavItem("Leads", reverse("web:lead_list"), "people", current in _LEADS_PAGES),
        NavItem("Agreement", reverse("web:agreement"), "agreement", current in _AGREEMENT_PAGES),
    ]
    if user.role in _SLA_ROLES or user.is_superuser:
        items.append(
            NavItem(
                "SLA compliance",
                reverse("web:sla_compliance"),
                "chart",
                current == "sla_compliance",
            )
        )
    if user.role in MERGE_ROLES:
        items.append(
            NavItem(
                "Duplicates",
                reverse("web:duplicate_list"),
                "merge",
                current in _DUPLICATES_PAGES,
            )
        )
    if user.role in (Role.MARKETING_OPS, Role.ADMIN) or user.is_superuser:
        items.append(NavItem("Forms", reverse("web:form_list"), "form", current in _FORMS_PAGES))
        items.append(
            NavItem("Imports", reverse("web:import_list"), "upload", current in _IMPORT_PAGES)
        )
        items.append(
            NavItem("Scoring", reverse("web:scoring_fit"), "gauge", current in _SCORING_PAGES)
        )
    if user.role in _MODEL_ROLES or user.is_superuser:
        items.append(
            NavItem(
                "Predictive model",
                reverse("web:model_card"),
                "chart",
                current == "model_card",
            )
        )
    if user.role in ROUTING_PAGE_ROLES or user.is_superuser:
        items.append(NavItem("Routing", reverse("web:routing"), "route", current in _ROUTING_PAGES))
    if can_manage_webhooks(user):
        items.append(
            NavItem("Webhooks", reverse("web:webhook_list"), "stage", current in _WEBHOOK_PAGES)
        )
    return items


def settings_nav_for(user: User, current: str) -> list[NavItem]:
    """The settings links at the foot of the navigation."""
    items = [NavItem("API tokens", reverse("web:tokens"), "key", current == "tokens")]
    if user.role in _AWAY_ROLES or user.is_superuser:
        items.append(
            NavItem("Out of office", reverse("web:routing_away"), "away", current == "routing_away")
        )
    if user.is_staff:
        items.append(NavItem("Admin site", reverse("admin:index"), "cog", False))
    return items
