"""Two years of a plausible B2B business, generated from a seed: ``leadloop demo``.

The run streams: each batch of leads is generated (companies, leads, their touches and stage
histories), inserted in bulk in one transaction, and dropped, so memory stays flat for a
million leads. Everything comes from one ``random.Random(seed)`` and the run's ``now``: the
same seed at the same ``now`` gives the same rows (pks and ``*created_at`` / ``updated_at``
audit columns aside). Histories go through ``lifecycle.services.stage_history_load``, so they
read like live ones.

A lead's story, each step only if its time has come (nothing is in the future):
first touch → lead (or subscriber) → engagement touches → MQL (a rule, or marketing by hand,
right after the touch that tipped it) → a rep answers: accept (SAL) or reject with a reason
(nurture or disqualified) → SQL → opportunity → won or lost with a reason → from nurture,
maybe MQL again: a new cycle.
"""

from __future__ import annotations

import math
import random
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Final, NamedTuple, TypeVar

from django.db import connection, transaction
from django.utils import timezone
from django.utils.text import slugify

from leadloop.accounts.models import Role, Team, User
from leadloop.capture.forms import SUBMISSION_PREFIX
from leadloop.capture.models import Campaign, Channel, Form, Touch, TouchKind
from leadloop.common.errors import Conflict
from leadloop.content.models import ContentKind, ContentOffer
from leadloop.demo import pools
from leadloop.demo.agreement import demo_agreement_ensure
from leadloop.demo.forms import DemoForms, demo_forms_ensure
from leadloop.demo.staff import MARKETING, SALES_AMERICAS, SALES_EMEA, Staff, demo_staff_ensure
from leadloop.leads.models import Company, Lead, Seniority, Stage
from leadloop.lifecycle.models import StageChange
from leadloop.lifecycle.services import HistoryStep, stage_history_load

DEMO_PREFIX: Final = "demo-"  # external ids of demo leads and touches
SITE: Final = "https://www.leadloop.example"
DAYS: Final = 730
BATCH: Final = 5000
_HOUR: Final = 3600.0
_DAY: Final = 86400.0
_REGIONS: Final = (("emea", "EUR", "EMEA", 1.0), ("americas", "USD", "Americas", 1.25))
# Rough UTC offsets of the two regions, for plausible local working hours.
_REGION_OFFSET: Final = {"emea": 1, "americas": -5}


_Slugged = TypeVar("_Slugged", Campaign, ContentOffer)


class DemoDataExists(Conflict):
    code = "demo_data_exists"


@dataclass(frozen=True)
class DemoResult:
    leads: int
    companies: int
    touches: int
    changes: int


@dataclass
class _Catalog:
    campaigns: dict[tuple[Channel, str, int], Campaign]  # (channel, region, quarter index)
    offers: list[ContentOffer]  # by published_on
    quarter0: date


@dataclass
class _Company:
    row: Company
    country: pools.Country
    sector: pools.Sector
    size_fit: int
    email_format: int
    slots: int
    used: set[str] = field(default_factory=set)


def _weighted(items: tuple[tuple[str, int], ...]) -> tuple[list[str], list[int]]:
    return [i[0] for i in items], [i[1] for i in items]


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum())


def _quarter_start(day: date) -> date:
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def _add_quarter(day: date) -> date:
    month = day.month + 3
    return date(day.year + (month - 1) // 12, (month - 1) % 12 + 1, 1)


def demo_reset(*, chunk: int = 5000) -> int:
    """Delete the demo's leads (with their touches and history), companies, campaigns, offers.

    Only rows the demo made: leads with a demo external id, companies left without leads,
    campaigns and offers of the demo's catalogue left without touches. Returns leads deleted.
    """
    deleted = 0
    ids = Lead.objects.filter(external_id__startswith=DEMO_PREFIX).order_by("pk")
    while batch := list(ids.values_list("pk", flat=True)[:chunk]):
        with transaction.atomic():
            Touch.objects.filter(lead_id__in=batch).delete()
            deleted += Lead.objects.filter(pk__in=batch).delete()[1].get("leads.Lead", 0)
    with transaction.atomic():
        Company.objects.filter(leads__isnull=True).delete()
        Campaign.objects.filter(slug__startswith=DEMO_PREFIX, touches__isnull=True).delete()
        ContentOffer.objects.filter(slug__startswith=DEMO_PREFIX, touches__isnull=True).delete()
    return deleted


def demo_generate(
    *,
    leads: int,
    seed: int = 1,
    now: datetime | None = None,
    batch_size: int = BATCH,
    progress: Callable[[int], None] | None = None,
) -> DemoResult:
    """Generate `leads` leads of a two-year B2B history ending at `now`; see the module doc.

    Raises ``DemoDataExists`` when leads exist already (``demo_reset`` first).
    """
    if Lead.objects.exists():
        raise DemoDataExists(
            f"The database already has {Lead.objects.count()} leads; the demo fills only an "
            "empty one.",
            loc=("leads",),
        )
    end = now or timezone.now()
    rng = random.Random(seed)
    staff = demo_staff_ensure()
    agreement = demo_agreement_ensure(staff=staff, since=end - timedelta(days=DAYS))
    catalog = _catalog_ensure(rng, end)
    forms = demo_forms_ensure(
        marketing=staff.users["marketing"], offers=catalog.offers, today=end.date()
    )
    world = _World(rng=rng, now=end, staff=staff, catalog=catalog, forms=forms)
    world.agreement_version = agreement.number
    totals = [0, 0, 0, 0]
    for first in range(0, leads, batch_size):
        count = min(batch_size, leads - first)
        with transaction.atomic():
            made = world.batch(first, count)
        totals = [t + m for t, m in zip(totals, made, strict=True)]
        connection.queries_log.clear()  # DEBUG keeps SQL text; do not let it pile up
        if progress:
            progress(count)
    return DemoResult(*totals)


@transaction.atomic
def _catalog_ensure(rng: random.Random, now: datetime) -> _Catalog:
    """Campaigns on every channel, per region and quarter, with costs; the content offers."""
    start = (now - timedelta(days=DAYS)).date()
    quarter0 = _quarter_start(start)
    campaigns: dict[tuple[Channel, str, int], Campaign] = {}
    quarter, index = quarter0, 0
    while quarter <= now.date():
        number = (quarter.month - 1) // 3 + 1
        for channel, (theme, cost) in pools.CAMPAIGN_THEMES.items():
            for region, currency, label, factor in _REGIONS:
                amount = Decimal(cost * factor * rng.uniform(0.7, 1.3)).quantize(Decimal("0.01"))
                campaigns[(channel, region, index)] = Campaign(
                    slug=f"{DEMO_PREFIX}{slugify(channel.value)}-{region}-{quarter.year}q{number}",
                    name=f"{theme} {label} {quarter.year} Q{number}",
                    channel=channel.value,
                    starts_on=quarter,
                    ends_on=_add_quarter(quarter) - timedelta(days=1),
                    cost_amount=amount,
                    cost_currency=currency,
                )
        quarter, index = _add_quarter(quarter), index + 1
    offers: list[ContentOffer] = []
    for number, (name, kind, gated, collateral) in enumerate(pools.CONTENT):
        slug = f"{DEMO_PREFIX}{slugify(name)}"[:100]
        offer = ContentOffer(
            slug=slug,
            name=name,
            kind=kind.value,
            url=f"{SITE}/resources/{slug.removeprefix(DEMO_PREFIX)}",
            description=f"{ContentKind(kind).label}: {name}.",
            is_gated=gated,
            is_collateral=collateral,
            # Some are older than the window; the rest appear over it, in catalogue order.
            published_on=start + timedelta(days=int(number * DAYS / len(pools.CONTENT)) - 90),
        )
        offers.append(offer)
    _by_slug_save(Campaign, list(campaigns.values()))
    _by_slug_save(ContentOffer, offers)
    return _Catalog(campaigns=campaigns, offers=offers, quarter0=quarter0)


def _by_slug_save(model: type[_Slugged], rows: Sequence[_Slugged]) -> None:
    """Insert `rows`, or update those whose slug exists (a demo over an earlier catalogue)."""
    existing = model.objects.in_bulk([r.slug for r in rows], field_name="slug")
    fields = [
        f.name for f in model._meta.concrete_fields if not f.primary_key and f.name != "created_at"
    ]
    for row in rows:
        if old := existing.get(row.slug):
            row.pk = old.pk
    model.objects.bulk_update([r for r in rows if r.pk], fields)
    model.objects.bulk_create([r for r in rows if not r.pk])


class _TouchRow(NamedTuple):
    """A touch before its lead has a pk; plain values, for ``executemany``."""

    lead: Lead
    kind: str
    channel: str
    source: str
    medium: str
    utm_campaign: str
    utm_term: str
    utm_content: str
    referrer: str
    landing_page: str
    campaign_id: int | None
    content_offer_id: int | None
    occurred_at: datetime
    external_id: str
    campaign_name: str
    form: Form | None  # the demo form it was posted through, as a real submission's touch


_TOUCH_COLUMNS: Final = (
    "lead_id",
    "kind",
    "channel",
    "source",
    "medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "referrer",
    "landing_page",
    "campaign_id",
    "content_offer_id",
    "occurred_at",
    "external_id",
    "properties",
    "created_at",
)


def _touches_insert(rows: list[_TouchRow]) -> None:
    """Insert touches with one ``executemany``: the bulk of the demo's rows, without the ORM's
    per-object cost. Values are adapted as the ORM would (aware UTC times, JSON)."""
    ops = connection.ops
    table = ops.quote_name(Touch._meta.db_table)
    columns = ", ".join(ops.quote_name(c) for c in _TOUCH_COLUMNS)
    marks = ", ".join(["%s"] * len(_TOUCH_COLUMNS))
    empty = ops.adapt_json_value({}, None)
    created = ops.adapt_datetimefield_value(timezone.now())
    at = ops.adapt_datetimefield_value
    values = [
        (
            r.lead.pk,
            *r[1:12],
            at(r.occurred_at),
            r.external_id,
            ops.adapt_json_value({"form": r.form.slug, "form_id": r.form.pk}, None)
            if r.form
            else empty,
            created,
        )
        for r in rows
    ]
    with connection.cursor() as cursor:
        cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", values)


class _World:
    """The generator's state across batches: pools, staff, catalogue and used domains."""

    def __init__(
        self,
        *,
        rng: random.Random,
        now: datetime,
        staff: Staff,
        catalog: _Catalog,
        forms: DemoForms,
    ) -> None:
        self.rng, self.now, self.catalog, self.forms = rng, now, catalog, forms
        self.start = now - timedelta(days=DAYS)
        self.agreement_version: int | None = None
        self.domains: set[str] = set(Company.objects.values_list("domain", flat=True))
        self.countries = pools.COUNTRIES
        self.country_weights = [c.weight for c in pools.COUNTRIES]
        self.sector_weights = [s.weight for s in pools.SECTORS]
        self.size_weights = [b[2] for b in pools.SIZE_BANDS]
        self.dept_names = list(pools.DEPARTMENTS)
        self.dept_weights = [pools.DEPARTMENTS[d][0] for d in self.dept_names]
        self.sen_weights = [s[1] for s in pools.SENIORITIES]
        self.acq_weights = [a[1] for a in pools.ACQUISITION]
        self.marketing_queue: Team = staff.teams[MARKETING]
        self.sales_queue = {
            "emea": staff.teams[SALES_EMEA],
            "americas": staff.teams[SALES_AMERICAS],
        }
        self.marketers = staff.members(MARKETING, Role.MARKETING_OPS)
        self.reps = {
            "emea": staff.members(SALES_EMEA, Role.SALES_REP),
            "americas": staff.members(SALES_AMERICAS, Role.SALES_REP),
        }
        self.managers = {
            "emea": staff.members(SALES_EMEA, Role.SALES_MANAGER),
            "americas": staff.members(SALES_AMERICAS, Role.SALES_MANAGER),
        }
        # The "rep" login carries a fuller book, so its dashboard is busy.
        self.rep_weights = {
            region: [2 if u.username == "rep" else 1 for u in reps]
            for region, reps in self.reps.items()
        }
        self.offer_dates = [o.published_on or self.start.date() for o in catalog.offers]

    # -- one batch --------------------------------------------------------------------------

    def batch(self, first: int, count: int) -> tuple[int, int, int, int]:
        companies: list[_Company] = []
        histories: list[tuple[Lead, list[HistoryStep]]] = []
        touches: list[_TouchRow] = []
        company: _Company | None = None
        for number in range(first, first + count):
            if company is None or company.slots == 0:
                company = self._company()
                companies.append(company)
            company.slots -= 1
            lead, steps, lead_touches = self._lead(number, company)
            histories.append((lead, steps))
            touches.extend(lead_touches)
        Company.objects.bulk_create([c.row for c in companies])
        for lead, _steps in histories:
            lead.company_id = lead.company.pk if lead.company else None
        changes = stage_history_load(histories=histories)
        _touches_insert(touches)
        return count, len(companies), len(touches), len(changes)

    # -- companies and people ---------------------------------------------------------------

    def _company(self) -> _Company:
        rng = self.rng
        country = rng.choices(self.countries, self.country_weights)[0]
        sector = rng.choices(pools.SECTORS, self.sector_weights)[0]
        low, high, _w, size_fit = rng.choices(pools.SIZE_BANDS, self.size_weights)[0]
        employees = int(math.exp(rng.uniform(math.log(low), math.log(high + 1))))
        if rng.random() < 0.3:
            surnames = pools.NAMES[country.names][1]
            base = f"{rng.choice(surnames)} {rng.choice(sector.words)}"
        else:
            base = f"{rng.choice(pools.COMPANY_FIRST)}{rng.choice(('', ' '))}{rng.choice(sector.words)}"
        name = f"{base} {rng.choice(country.legal)}" if rng.random() < 0.7 else base
        domain = self._domain(base, country, sector)
        revenue = Decimal(employees * sector.revenue_per_employee * 1000 * rng.uniform(0.6, 1.5))
        row = Company(
            domain=domain,
            name=name,
            sector=sector.name,
            employee_count=employees,
            country=country.code,
            annual_revenue=revenue.quantize(Decimal("1000")) if rng.random() < 0.8 else None,
            annual_revenue_currency=country.currency,
        )
        # Bigger companies bring more people; most companies only one or two.
        slots = 1 + min(int(rng.expovariate(1 / (0.6 + size_fit * 0.7))), 12)
        return _Company(row, country, sector, size_fit, rng.randrange(3), slots)

    def _domain(self, base: str, country: pools.Country, sector: pools.Sector) -> str:
        rng = self.rng
        stem = _ascii(base) or "company"
        tld = rng.choice(country.tlds)
        candidates = [f"{stem}.{tld}", f"{stem}-{rng.choice(pools.DOMAIN_WORDS)}.{tld}"]
        candidates += [f"{stem}{_ascii(w)}.{tld}" for w in sector.words]
        for domain in candidates:
            if domain not in self.domains and domain not in pools.FREE_MAIL_DOMAINS:
                break
        else:
            serial = len(self.domains)
            domain = f"{stem}{serial}.{tld}"
        self.domains.add(domain)
        return domain

    def _lead(
        self, number: int, company: _Company
    ) -> tuple[Lead, list[HistoryStep], list[_TouchRow]]:
        rng = self.rng
        country = (
            company.country
            if rng.random() < 0.92
            else rng.choices(self.countries, self.country_weights)[0]
        )
        firsts, lasts = pools.NAMES[country.names]
        first, last = rng.choice(firsts), rng.choice(lasts)
        dept = rng.choices(self.dept_names, self.dept_weights)[0]
        seniority, _w, sen_fit = rng.choices(pools.SENIORITIES, self.sen_weights)[0]
        if (
            seniority == Seniority.OWNER
            and company.row.employee_count
            and company.row.employee_count > 50
        ):
            seniority, sen_fit = Seniority.DIRECTOR, 3
        title = (
            "Founder & CEO"
            if seniority == Seniority.OWNER
            else pools.DEPARTMENTS[dept][1][seniority]
        )
        email = self._email(company, first, last)
        created = self._created_at(company.country.region)
        lead = Lead(
            email=email,
            external_id=f"{DEMO_PREFIX}{number:07d}",
            first_name=first,
            last_name=last,
            title=title,
            seniority=seniority if rng.random() < 0.9 else Seniority.UNKNOWN,
            phone=f"{country.phone} {rng.randint(20, 99)} {rng.randint(1000000, 9999999)}"
            if rng.random() < 0.6
            else "",
            country=country.code,
            company=company.row,
            consent_given=True,
            consent_text="I agree to receive e-mails about Leadloop products and events.",
            consent_at=created,
            created_at=created,
            queue=self.marketing_queue,
        )
        fit = company.sector.fit + company.size_fit + sen_fit
        if dept == "student":
            fit = 0
        lead.attributes = {"department": dept, "fit_hint": fit}
        story = _Story(self, lead, number, company.country.region, fit)
        story.play(created)
        return lead, story.steps, story.touches

    def _email(self, company: _Company, first: str, last: str) -> str:
        f, la = _ascii(first) or "x", _ascii(last) or "x"
        local = (f"{f}.{la}", f"{f[0]}{la}", f"{f}")[company.email_format]
        candidate, serial = local, 1
        while candidate in company.used:
            serial += 1
            candidate = f"{local}{serial}"
        company.used.add(candidate)
        return f"{candidate}@{company.row.domain}"

    def _created_at(self, region: str) -> datetime:
        """A working-hours moment in the window, more of them lately (a growing business)."""
        rng = self.rng
        while True:
            x = math.sqrt(rng.random() * 0.8 + 0.2) - math.sqrt(0.2)  # density grows with x
            day = self.start + timedelta(days=x / (1 - math.sqrt(0.2)) * DAYS)
            if day.weekday() < 5 or rng.random() < 0.15:
                break
        local_hour = rng.triangular(7, 20, 11)
        midnight = day.replace(hour=0, minute=0, second=0, microsecond=0)
        at = midnight + timedelta(
            hours=local_hour - _REGION_OFFSET[region], seconds=rng.randrange(3600)
        )
        return min(max(at, self.start), self.now - timedelta(minutes=1))

    # -- helpers for stories ----------------------------------------------------------------

    def campaign(self, channel: Channel, region: str, at: datetime) -> Campaign | None:
        quarter = 0
        day = _quarter_start(at.date())
        probe = self.catalog.quarter0
        while probe < day:
            probe, quarter = _add_quarter(probe), quarter + 1
        return self.catalog.campaigns.get((channel, region, quarter))

    def offer(
        self, at: datetime, kinds: tuple[ContentKind, ...] | None = None
    ) -> ContentOffer | None:
        day = at.date()
        published = [
            o
            for o, d in zip(self.catalog.offers, self.offer_dates, strict=True)
            if d <= day and (kinds is None or o.kind in kinds)
        ]
        return self.rng.choice(published) if published else None


_ENGAGEMENT: Final[tuple[tuple[TouchKind, Channel, str, str], ...]] = (
    (TouchKind.EMAIL_OPEN, Channel.EMAIL, "newsletter", "email"),
    (TouchKind.EMAIL_CLICK, Channel.EMAIL, "newsletter", "email"),
    (TouchKind.PAGE_VISIT, Channel.ORGANIC_SEARCH, "google", "organic"),
    (TouchKind.PAGE_VISIT, Channel.DIRECT, "(direct)", "(none)"),
    (TouchKind.CONTENT_DOWNLOAD, Channel.EMAIL, "newsletter", "email"),
    (TouchKind.WEBINAR, Channel.WEBINAR, "webinar", "webinar"),
    (TouchKind.SOCIAL, Channel.SOCIAL, "linkedin", "social"),
    (TouchKind.AD_CLICK, Channel.DISPLAY, "google", "display"),
)
_ENGAGEMENT_WEIGHTS: Final = (30, 14, 16, 14, 12, 5, 5, 4)
_UTM_CHANNELS: Final = frozenset(
    {
        Channel.PAID_SEARCH,
        Channel.PAID_SOCIAL,
        Channel.SOCIAL,
        Channel.EMAIL,
        Channel.DISPLAY,
        Channel.PARTNER,
        Channel.EVENT,
        Channel.WEBINAR,
        Channel.OTHER,
    }
)
_CONTENT_KINDS: Final = {
    TouchKind.CONTENT_DOWNLOAD: (
        ContentKind.EBOOK,
        ContentKind.WHITEPAPER,
        ContentKind.REPORT,
        ContentKind.CHECKLIST,
        ContentKind.CASE_STUDY,
    ),
    TouchKind.WEBINAR: (ContentKind.WEBINAR,),
    TouchKind.PAGE_VISIT: (ContentKind.BLOG_POST, ContentKind.VIDEO, ContentKind.CASE_STUDY),
}
_REFERRERS: Final = {
    "google": "https://www.google.com/",
    "bing": "https://www.bing.com/",
    "duckduckgo": "https://duckduckgo.com/",
    "linkedin": "https://www.linkedin.com/",
    "facebook": "https://www.facebook.com/",
    "g2.com": "https://www.g2.com/products/leadloop/reviews",
    "techradar.com": "https://www.techradar.com/best/lead-management-software",
    "x": "https://x.com/",
    "youtube": "https://www.youtube.com/",
}
_MAX_CYCLES: Final = 3


class _Story:
    """One lead's life: appends touches and history steps, never past ``now``."""

    def __init__(self, world: _World, lead: Lead, number: int, region: str, fit: int) -> None:
        self.world, self.rng, self.now = world, world.rng, world.now
        self.lead, self.number, self.region, self.fit = lead, number, region, fit
        self.steps: list[HistoryStep] = []
        self.touches: list[_TouchRow] = []
        self.rep: User | None = None
        self.t = lead.created_at

    # -- recording --------------------------------------------------------------------------

    def _days(self, median: float, sigma: float = 0.8) -> timedelta:
        return timedelta(seconds=self.rng.lognormvariate(math.log(median * _DAY), sigma))

    def _touch(
        self,
        kind: TouchKind,
        channel: Channel,
        source: str,
        medium: str,
        at: datetime,
        content_kinds: tuple[ContentKind, ...] | None = None,
        term: str = "",
    ) -> None:
        world = self.world
        campaign = None if channel == Channel.DIRECT else world.campaign(channel, self.region, at)
        offer = None
        if content_kinds is not None or kind in _CONTENT_KINDS:
            offer = world.offer(at, content_kinds or _CONTENT_KINDS[kind])
        utm = channel in _UTM_CHANNELS and campaign is not None
        page = f"/resources/{offer.slug.removeprefix(DEMO_PREFIX)}" if offer else "/"
        form = self._form(kind, offer)
        external_id = f"{DEMO_PREFIX}{self.number:07d}-{len(self.touches)}"
        if form is not None:  # the form list counts a form's submissions by this prefix
            external_id = f"{SUBMISSION_PREFIX}{form.pk}:{external_id}"
        self.touches.append(
            _TouchRow(
                self.lead,
                kind.value,
                channel.value,
                source,
                medium,
                campaign.slug if utm and campaign else "",
                term,
                offer.slug.removeprefix(DEMO_PREFIX) if utm and offer else "",
                _REFERRERS.get(source, ""),
                f"{SITE}{page}" if kind != TouchKind.EMAIL_OPEN else "",
                campaign.pk if campaign else None,
                offer.pk if offer else None,
                at,
                external_id,
                campaign.name if campaign else "",
                form,
            )
        )

    def _form(self, kind: TouchKind, offer: ContentOffer | None) -> Form | None:
        """The demo form a touch came through: a gated offer's own form, the demo request,
        or contact sales for a lead's first form fill; None for other form fills (a
        newsletter sign-up, an event's list), which no demo form stands for."""
        forms = self.world.forms
        if offer is not None and offer.pk in forms.gated:
            gated = kind in (TouchKind.CONTENT_DOWNLOAD, TouchKind.WEBINAR)
            return forms.gated[offer.pk] if gated else None
        if kind != TouchKind.FORM_FILL:
            return None
        if offer is not None and offer.kind == ContentKind.DEMO:
            return forms.request_demo
        return forms.contact_sales if not self.touches else None

    def _sales_touch(self, kind: TouchKind, at: datetime) -> None:
        collateral = (
            (ContentKind.CASE_STUDY, ContentKind.PRICE_SHEET)
            if kind == TouchKind.SALES_EMAIL
            else None
        )
        self._touch(kind, Channel.OUTBOUND, "sales", "outbound", at, content_kinds=collateral)

    def _step(
        self, to: Stage, at: datetime, actor: User | None = None, rule: str = "", reason: str = ""
    ) -> None:
        # Every decision after the entry applied the demo's agreement.
        version = self.world.agreement_version if rule != "capture" else None
        self.steps.append(
            HistoryStep(
                to=to,
                at=at,
                actor_id=actor.pk if actor else None,
                rule=rule,
                reason=reason,
                agreement_version=version,
            )
        )

    def _due(self, delay: timedelta) -> datetime | None:
        """The time `delay` after the current one, or None when it is still in the future."""
        at = self.t + delay
        return at if at <= self.now else None

    def _engage(self, until: datetime, mean: float) -> None:
        """Marketing touches between now-in-story and `until`, in time order."""
        if until <= self.t:
            return
        count = min(int(self.rng.expovariate(1 / mean)), 25) if mean > 0 else 0
        span = (until - self.t).total_seconds()
        for offset in sorted(self.rng.random() * span for _ in range(count)):
            kind, channel, source, medium = self.rng.choices(_ENGAGEMENT, _ENGAGEMENT_WEIGHTS)[0]
            self._touch(kind, channel, source, medium, self.t + timedelta(seconds=offset))

    # -- the story --------------------------------------------------------------------------

    def play(self, created: datetime) -> None:
        rng, lead = self.rng, self.lead
        channel, _w, kinds, sources = rng.choices(pools.ACQUISITION, self.world.acq_weights)[0]
        source, medium = rng.choice(sources)
        term = rng.choice(pools.SEARCH_TERMS) if channel == Channel.PAID_SEARCH else ""
        kind = rng.choice(kinds)
        self._touch(kind, channel, source, medium, created, term=term)
        first = self.touches[0]
        lead.source = channel.value
        lead.source_detail = first.campaign_name or source
        subscriber = channel == Channel.EMAIL or (
            kind == TouchKind.CONTENT_DOWNLOAD and rng.random() < 0.25
        )
        self.t = created + timedelta(seconds=rng.randint(1, 5))
        self._step(Stage.SUBSCRIBER if subscriber else Stage.LEAD, self.t, rule="capture")
        p_mql = 0.025 + 0.026 * self.fit
        if channel in (Channel.OUTBOUND, Channel.REFERRAL, Channel.PARTNER, Channel.EVENT):
            p_mql *= 1.4
        if rng.random() < p_mql:
            self._qualify(self._days(10, 1.0), recycled=False)
            return
        self._stay_marketing(subscriber)

    def _stay_marketing(self, subscriber: bool) -> None:
        """A lead that does not qualify: engages a little, maybe goes to nurture or out."""
        rng = self.rng
        horizon = min(self.now, self.t + timedelta(days=rng.uniform(20, 240)))
        self._engage(horizon, 2.0)
        roll = rng.random()
        if roll < 0.04:
            at = self._due(timedelta(days=rng.uniform(0.1, 20)))
            if at:
                reason = rng.choices(
                    *_weighted((("spam", 50), ("duplicate", 30), ("bad_fit", 20)))
                )[0]
                self._step(
                    Stage.DISQUALIFIED, at, actor=rng.choice(self.world.marketers), reason=reason
                )
        elif roll < 0.20:
            quiet_since = max(t.occurred_at for t in self.touches)
            at = quiet_since + timedelta(days=rng.uniform(90, 120))
            if at <= self.now:
                self._step(Stage.NURTURE, at, rule="no engagement in 90 days")
        elif subscriber and roll < 0.45:
            at = max(t.occurred_at for t in self.touches) + timedelta(days=rng.uniform(1, 30))
            if at <= self.now:
                self._touch(TouchKind.FORM_FILL, Channel.EMAIL, "newsletter", "email", at)
                self._step(Stage.LEAD, at + timedelta(seconds=2), rule="form fill")

    def _qualify(self, delay: timedelta, *, recycled: bool) -> None:
        """Touches up to the one that tips the lead into MQL, then the MQL and the answer."""
        rng = self.rng
        at = self._due(delay)
        if at is None:
            self._engage(self.now, 2.0)
            return
        self._engage(at - timedelta(minutes=30), 1.5 if recycled else 2.5)
        trigger = rng.choices(
            (
                (TouchKind.FORM_FILL, (ContentKind.DEMO,)),
                (TouchKind.CONTENT_DOWNLOAD, (ContentKind.PRICE_SHEET,)),
                (TouchKind.CONTENT_DOWNLOAD, None),
                (TouchKind.WEBINAR, None),
            ),
            (35, 20, 30, 15),
        )[0]
        channel = Channel.EMAIL if recycled else Channel.DIRECT
        source, medium = ("nurture", "email") if recycled else ("(direct)", "(none)")
        touched = at - timedelta(minutes=rng.uniform(1, 25))
        self._touch(trigger[0], channel, source, medium, touched, content_kinds=trigger[1])
        if rng.random() < 0.12:
            self._step(Stage.MQL, at, actor=rng.choice(self.world.marketers))
        else:
            self._step(
                Stage.MQL,
                at,
                rule="score threshold" if not recycled else "score threshold (re-qualified)",
            )
        self.t = at
        self._route()
        self._answer()

    def _route(self) -> None:
        world, region = self.world, self.region
        if self.rep is None or self.rng.random() < 0.3:  # recycled leads mostly keep their rep
            self.rep = self.rng.choices(world.reps[region], world.rep_weights[region])[0]
        self.lead.queue, self.lead.owner = None, self.rep

    def _answer(self) -> None:
        """The rep answers an MQL within hours to days."""
        rng, rep = self.rng, self.rep
        if rng.random() < 0.85:
            hours = min(rng.lognormvariate(math.log(5), 1.1), 150)
        else:  # a busy rep, a holiday: the answer takes days
            hours = rng.uniform(24, 14 * 24)
        delay = timedelta(hours=hours, minutes=10)
        at = self._due(delay)
        if at is None:
            if rng.random() < 0.3:  # not yet assigned: waiting in the team queue
                self.lead.owner, self.lead.queue = None, self.world.sales_queue[self.region]
            return
        roll = rng.random()
        accept = 0.52 + 0.03 * self.fit
        if roll < accept:
            self._sales_touch(TouchKind.OUTBOUND_CALL, at - timedelta(minutes=rng.uniform(5, 60)))
            self._step(Stage.SAL, at, actor=rep)
            self.t = at
            self._work_sal()
        elif roll < accept + (1 - accept) * 0.65:
            self._recycle(at, reason=rng.choices(*_weighted(pools.REJECT_NURTURE))[0])
        else:
            self._drop(at, reason=rng.choices(*_weighted(pools.REJECT_OUT))[0])

    def _work_sal(self) -> None:
        rng, rep = self.rng, self.rep
        at = self._due(self._days(6, 0.7))
        self._sales_followups(at or self.now, 3)
        if at is None:
            return
        roll = rng.random()
        if roll < 0.52:
            self._sales_touch(TouchKind.MEETING, at - timedelta(hours=rng.uniform(1, 30)))
            self._step(Stage.SQL, at, actor=rep)
            self.t = at
            self._work_sql()
        elif roll < 0.86:
            self._recycle(at, reason=rng.choices(*_weighted(pools.REJECT_NURTURE))[0])
        else:
            self._drop(at, reason=rng.choice(("bad_fit", "competitor")))

    def _work_sql(self) -> None:
        rng, rep = self.rng, self.rep
        at = self._due(self._days(5, 0.7))
        if at is None:
            return
        if rng.random() < 0.75:
            self._sales_touch(TouchKind.DEMO, at - timedelta(hours=rng.uniform(1, 48)))
            actor = rep if rng.random() < 0.85 else rng.choice(self.world.managers[self.region])
            self._step(Stage.OPPORTUNITY, at, actor=actor)
            self.t = at
            self._close()
        else:
            self._recycle(at, reason=rng.choice(("no_budget", "not_now", "no_decision")))

    def _close(self) -> None:
        rng, rep = self.rng, self.rep
        at = self._due(self._days(40, 0.6))
        self._sales_followups(at or self.now, 4)
        if at is None:
            return
        if rng.random() < 0.26:
            self._step(Stage.CUSTOMER, at, actor=rep, rule="")
        else:
            self._recycle(at, reason=rng.choices(*_weighted(pools.LOST))[0])

    def _sales_followups(self, until: datetime, mean: float) -> None:
        span = (until - self.t).total_seconds()
        if span <= 0:
            return
        count = min(int(self.rng.expovariate(1 / mean)), 10)
        kinds = (TouchKind.SALES_EMAIL, TouchKind.OUTBOUND_CALL, TouchKind.REPLY, TouchKind.MEETING)
        for offset in sorted(self.rng.random() * span for _ in range(count)):
            self._sales_touch(
                self.rng.choices(kinds, (40, 30, 20, 10))[0], self.t + timedelta(seconds=offset)
            )

    def _recycle(self, at: datetime, *, reason: str) -> None:
        """The rep rejects or loses the lead with `reason`: back to nurture."""
        self._step(Stage.NURTURE, at, actor=self.rep, reason=reason)
        self.t = at
        self._nurture()

    def _drop(self, at: datetime, *, reason: str) -> None:
        """The rep disqualifies the lead with `reason`; marketing owns it again."""
        self._step(Stage.DISQUALIFIED, at, actor=self.rep, reason=reason)
        self._to_marketing()

    def _nurture(self) -> None:
        """Back to marketing; some come back as MQL months later: a new cycle."""
        self._to_marketing()
        cycle = sum(1 for s in self.steps if s.to == Stage.MQL)
        if cycle < _MAX_CYCLES and self.rng.random() < 0.3:
            self._qualify(self._days(100, 0.6), recycled=True)
        else:
            self._engage(min(self.now, self.t + timedelta(days=self.rng.uniform(30, 200))), 2.0)

    def _to_marketing(self) -> None:
        self.lead.owner, self.lead.queue = None, self.world.marketing_queue


def rows_digest_source() -> Iterator[tuple[object, ...]]:
    """The demo's rows by natural key, without pks or audit times: for determinism checks."""
    yield from Company.objects.order_by("domain").values_list(
        "domain", "name", "sector", "employee_count", "country", "annual_revenue"
    )
    yield from Lead.objects.order_by("external_id").values_list(
        "external_id",
        "email",
        "first_name",
        "last_name",
        "title",
        "seniority",
        "country",
        "company__domain",
        "stage",
        "stage_changed_at",
        "cycle",
        "mql_first_at",
        "customer_first_at",
        "owner__username",
        "queue__name",
        "source",
        "source_detail",
        "created_at",
    )
    yield from Touch.objects.order_by("external_id").values_list(
        "external_id",
        "kind",
        "channel",
        "source",
        "medium",
        "utm_campaign",
        "utm_term",
        "campaign__slug",
        "content_offer__slug",
        "occurred_at",
    )
    yield from StageChange.objects.order_by("lead__external_id", "at", "to_stage").values_list(
        "lead__external_id",
        "from_stage",
        "to_stage",
        "actor__username",
        "rule",
        "reason",
        "cycle",
        "at",
    )
    yield from Campaign.objects.order_by("slug").values_list("slug", "cost_amount", "cost_currency")
