"""Capture forms: their definition (built by marketing ops), who may post them, and how often.

A form's ``fields`` is a list of :class:`FormField`. One field must map to the lead's e-mail,
because a lead is found by its e-mail. ``form_create`` and ``form_update`` check the whole
definition and raise one :class:`FormInvalid` that lists every problem, each with the ``loc``
of the input it is about (``("fields", 2, "name")``, ``("allowed_origins", 0)``), so the
builder shows each message beside its input.

Submissions (``leadloop.loop.forms.submission_check``) record touches whose external id starts
with ``f:<form id>:``; the form list counts them from there.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, TypedDict
from urllib.parse import urlsplit

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import Count, Max, Q

from leadloop.accounts.models import Role, User
from leadloop.capture.models import Campaign, Form, Touch
from leadloop.common.cache import ProcessCache
from leadloop.common.errors import LeadloopError, NotFound, PermissionDenied
from leadloop.content.models import ContentOffer

FIELD_TYPES: Final = ("text", "email", "tel", "select", "checkbox", "textarea", "number")
FIELD_TYPE_LABELS: Final[dict[str, str]] = {
    "text": "Text",
    "email": "E-mail",
    "tel": "Phone",
    "select": "Drop-down",
    "checkbox": "Checkbox",
    "textarea": "Paragraph",
    "number": "Number",
}
# The lead fields a form field can fill; anything else goes to ``attributes.<key>``.
LEAD_TARGETS: Final[dict[str, str]] = {
    "email": "E-mail",
    "first_name": "First name",
    "last_name": "Last name",
    "title": "Job title",
    "phone": "Phone",
    "country": "Country (ISO code)",
    "company_name": "Company name",
    "company_domain": "Company website",
}
ATTRIBUTE_PREFIX: Final = "attributes."
# Names the public form uses itself: consent box, honeypot, page URL and referrer.
RESERVED_NAMES: Final = frozenset(
    {"consent", "website", "page_url", "referrer", "csrfmiddlewaretoken", "fields"}
)
FORM_EDITORS: Final = frozenset({Role.MARKETING_OPS, Role.ADMIN})
MAX_FIELDS: Final = 50
MAX_CHOICES: Final = 200
SUBMISSION_PREFIX: Final = "f:"

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,49}$")
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_http_url = URLValidator(schemes=["http", "https"])


class FormField(TypedDict):
    """One input of a form, as stored in ``Form.fields``."""

    name: str
    label: str
    type: str
    required: bool
    maps_to: str  # a key of LEAD_TARGETS, "attributes.<key>", or "" (kept on the touch only)
    choices: list[str]  # select only: "value" or "value | Label"


class FormInvalid(LeadloopError):
    """A form definition with one or more problems; ``errors`` has each with its ``loc``."""

    code = "form_invalid"

    def __init__(self, errors: Sequence[tuple[tuple[str | int, ...], str]]) -> None:
        first_loc, _ = errors[0]
        super().__init__("; ".join(msg for _, msg in errors), loc=first_loc)
        self.errors = list(errors)


@dataclass(frozen=True)
class FormSpec:
    """What the builder sends: a whole form definition."""

    name: str
    slug: str
    fields: Sequence[Mapping[str, Any]]
    consent_text: str = ""
    consent_required: bool = False
    content_offer_id: int | None = None
    campaign_id: int | None = None
    submit_label: str = "Submit"
    thank_you_message: str = ""
    redirect_url: str = ""
    allowed_origins: list[str] = field(default_factory=list)
    is_active: bool = True


def can_edit_forms(user: User) -> bool:
    """Marketing ops and admins build forms; everyone else only sees what they capture."""
    return user.is_authenticated and (user.role in FORM_EDITORS or user.is_superuser)


def _require_editor(actor: User) -> None:
    if not can_edit_forms(actor):
        raise PermissionDenied("Only marketing ops and admins can change forms.")


def choice_split(choice: str) -> tuple[str, str]:
    """``"DE | Germany"`` → ``("DE", "Germany")``; ``"Germany"`` → ``("Germany", "Germany")``."""
    value, _, label = choice.partition("|")
    return value.strip(), (label.strip() or value.strip())


def origin_normalize(value: str, *, loc: tuple[str | int, ...]) -> str:
    """``scheme://host[:port]`` in lower case; raises FormInvalid naming `loc` for anything else."""
    raw = value.strip().rstrip("/")
    parts = urlsplit(raw)
    try:
        port = parts.port
    except ValueError:
        port, raw = None, ""
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.path
        or parts.query
        or parts.fragment
        or parts.username
        or not raw
    ):
        raise FormInvalid(
            [
                (
                    loc,
                    f"Allowed origin {value.strip()!r} is not an origin: write scheme://host "
                    "or scheme://host:port, e.g. https://www.example.com (no path).",
                )
            ]
        )
    return f"{parts.scheme}://{parts.hostname}" + (f":{port}" if port else "")


def _field_clean(
    i: int, raw: Mapping[str, Any], errors: list[tuple[tuple[str | int, ...], str]]
) -> FormField:
    def err(key: str, msg: str) -> None:
        errors.append((("fields", i, key), f"Field {i + 1}: {msg}"))

    label = str(raw.get("label") or "").strip()
    name = str(raw.get("name") or "").strip()
    kind = str(raw.get("type") or "text").strip()
    maps_to = str(raw.get("maps_to") or "").strip()
    raw_choices = raw.get("choices") or []
    if isinstance(raw_choices, str):
        raw_choices = raw_choices.splitlines()
    choices = [str(c).strip() for c in raw_choices if str(c).strip()]
    if not label:
        err("label", "give it a label people will read.")
    elif len(label) > 200:
        err("label", "the label is longer than 200 characters.")
    if not _NAME.match(name):
        err(
            "name",
            f"name {name!r} must start with a letter and use only a-z, 0-9 and _ "
            "(at most 50 characters), e.g. first_name.",
        )
    elif name in RESERVED_NAMES:
        err("name", f"name {name!r} is used by the form itself; choose another.")
    if kind not in FIELD_TYPES:
        err("type", f"type {kind!r} is not one of {', '.join(FIELD_TYPES)}.")
    if maps_to.startswith(ATTRIBUTE_PREFIX):
        if not _NAME.match(maps_to.removeprefix(ATTRIBUTE_PREFIX)):
            err(
                "maps_to",
                f"{maps_to!r}: a custom attribute is attributes.<key>, key in a-z, 0-9 and _.",
            )
    elif maps_to and maps_to not in LEAD_TARGETS:
        err("maps_to", f"{maps_to!r} is not a lead field or attributes.<key>.")
    elif maps_to and kind in ("checkbox", "number"):
        err("maps_to", f"a {kind} cannot fill the lead's {LEAD_TARGETS[maps_to]}.")
    if maps_to == "email" and kind not in ("email", "text"):
        err("type", "the field mapped to e-mail must be of type e-mail.")
    if kind == "select" and not choices:
        err("choices", "a drop-down needs at least one choice, one per line.")
    if len(choices) > MAX_CHOICES:
        err("choices", f"at most {MAX_CHOICES} choices.")
    return FormField(
        name=name,
        label=label,
        type="email" if maps_to == "email" else kind,
        required=bool(raw.get("required")) or maps_to == "email",
        maps_to=maps_to,
        choices=choices if kind == "select" else [],
    )


def form_fields_clean(raw_fields: Sequence[Mapping[str, Any]]) -> list[FormField]:
    """The fields of a definition, checked; raises FormInvalid listing every problem."""
    errors: list[tuple[tuple[str | int, ...], str]] = []
    if len(raw_fields) > MAX_FIELDS:
        errors.append((("fields",), f"A form has at most {MAX_FIELDS} fields."))
    fields = [_field_clean(i, raw, errors) for i, raw in enumerate(raw_fields)]
    seen_names: dict[str, int] = {}
    seen_targets: dict[str, int] = {}
    for i, f in enumerate(fields):
        if f["name"] and f["name"] in seen_names:
            errors.append(
                (
                    ("fields", i, "name"),
                    f"Field {i + 1}: name {f['name']!r} is already used by field "
                    f"{seen_names[f['name']] + 1}.",
                )
            )
        seen_names.setdefault(f["name"], i)
        if f["maps_to"] and f["maps_to"] in seen_targets:
            errors.append(
                (
                    ("fields", i, "maps_to"),
                    f"Field {i + 1}: {f['maps_to']!r} is already filled by field "
                    f"{seen_targets[f['maps_to']] + 1}.",
                )
            )
        seen_targets.setdefault(f["maps_to"], i)
    if "email" not in seen_targets:
        errors.append(
            (
                ("fields",),
                "The form needs an e-mail field mapped to “E-mail”: a lead is found by its "
                "e-mail. Add one, or set “Maps to” of your e-mail field to E-mail.",
            )
        )
    if errors:
        raise FormInvalid(errors)
    return fields


def _spec_clean(spec: FormSpec, *, form_id: int | None) -> dict[str, Any]:
    errors: list[tuple[tuple[str | int, ...], str]] = []
    name, slug = spec.name.strip(), spec.slug.strip().lower()
    if not name:
        errors.append((("name",), "Give the form a name, e.g. “Pricing page — demo request”."))
    if not _SLUG.match(slug) or len(slug) > 100:
        errors.append(
            (
                ("slug",),
                f"Slug {spec.slug.strip()!r} must use only a-z, 0-9 and single hyphens "
                "(it becomes the form's URL /f/<slug>).",
            )
        )
    elif Form.objects.filter(slug=slug).exclude(pk=form_id or 0).exists():
        errors.append((("slug",), f"Slug {slug!r} is taken by another form; choose another."))
    try:
        fields = form_fields_clean(spec.fields)
    except FormInvalid as e:
        errors += e.errors
        fields = []
    origins: list[str] = []
    for i, origin in enumerate(o for o in spec.allowed_origins if o.strip()):
        try:
            normalized = origin_normalize(origin, loc=("allowed_origins", i))
        except FormInvalid as e:
            errors += e.errors
        else:
            if normalized not in origins:
                origins.append(normalized)
    redirect_url = spec.redirect_url.strip()
    if redirect_url:
        try:
            _http_url(redirect_url)
        except ValidationError:
            errors.append(
                (("redirect_url",), f"Redirect URL {redirect_url!r} is not an http(s) URL.")
            )
    if spec.consent_required and not spec.consent_text.strip():
        errors.append(
            (("consent_text",), "Consent is required but has no text: write what people agree to.")
        )
    offer = campaign = None
    if spec.content_offer_id is not None:
        offer = ContentOffer.objects.filter(pk=spec.content_offer_id).first()
        if offer is None:
            errors.append((("content_offer",), f"No content offer {spec.content_offer_id}."))
    if spec.campaign_id is not None:
        campaign = Campaign.objects.filter(pk=spec.campaign_id).first()
        if campaign is None:
            errors.append((("campaign",), f"No campaign {spec.campaign_id}."))
    submit_label = spec.submit_label.strip() or "Submit"
    if len(submit_label) > 100:
        errors.append((("submit_label",), "The button label is longer than 100 characters."))
    if errors:
        raise FormInvalid(errors)
    return {
        "name": name,
        "slug": slug,
        "fields": fields,
        "consent_text": spec.consent_text.strip(),
        "consent_required": spec.consent_required,
        "content_offer": offer,
        "campaign": campaign,
        "submit_label": submit_label,
        "thank_you_message": spec.thank_you_message.strip(),
        "redirect_url": redirect_url,
        "allowed_origins": origins,
        "is_active": spec.is_active,
    }


@transaction.atomic
def form_create(*, spec: FormSpec, actor: User) -> Form:
    """Create a form from a checked definition. Raises PermissionDenied, FormInvalid."""
    _require_editor(actor)
    return Form.objects.create(**_spec_clean(spec, form_id=None), created_by=actor)


@transaction.atomic
def form_update(*, form_id: int, spec: FormSpec, actor: User) -> Form:
    """Replace a form's definition. Raises PermissionDenied, NotFound, FormInvalid."""
    _require_editor(actor)
    form = Form.objects.select_for_update().filter(pk=form_id).first()
    if form is None:
        raise NotFound(f"No form {form_id}.")
    for key, value in _spec_clean(spec, form_id=form_id).items():
        setattr(form, key, value)
    form.save()
    _PUBLIC.clear()  # this process serves the new definition at once, the others within seconds
    transaction.on_commit(_PUBLIC.clear)
    return form


# --- Reads -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FormRow:
    form: Form
    submissions_since: int  # since the start of the period asked for (this month)
    last_submission_at: datetime | None


def form_get(*, form_id: int) -> Form:
    """The form with this id; raises NotFound."""
    form = Form.objects.select_related("content_offer", "campaign").filter(pk=form_id).first()
    if form is None:
        raise NotFound(f"No form {form_id}.")
    return form


_PUBLIC: ProcessCache[Form] = ProcessCache("public forms")


def form_get_public(*, slug: str) -> Form:
    """The active form served at /f/<slug>; raises NotFound for an unknown or inactive one.

    Read once per LEADLOOP_CONFIG_CACHE_SECONDS per process (``common.cache``): this runs on
    every public submission. Its content offer and campaign load when used, and only when it
    has them: most forms have neither."""
    form = _PUBLIC.get(slug)
    if form is None:
        form = Form.objects.filter(slug=slug).first()
        if form is not None:
            _PUBLIC.set(form, slug)
    if form is None or not form.is_active:
        raise NotFound(f"No form {slug!r}.")
    return form


def form_list(*, since: datetime) -> list[FormRow]:
    """Every form with its submissions since `since` and its last submission ever."""
    rows = []
    for form in Form.objects.select_related("content_offer", "campaign"):
        stats = Touch.objects.filter(
            external_id__startswith=f"{SUBMISSION_PREFIX}{form.pk}:"
        ).aggregate(n=Count("id", filter=Q(occurred_at__gte=since)), last=Max("occurred_at"))
        rows.append(FormRow(form, stats["n"] or 0, stats["last"]))
    return rows


def form_choices() -> tuple[list[ContentOffer], list[Campaign]]:
    """The content offers a form can gate and the campaigns it can belong to."""
    return list(ContentOffer.objects.order_by("name")), list(Campaign.objects.order_by("name"))


def form_origin_allowed(*, form: Form, origin: str) -> bool:
    """Whether a browser page on `origin` may post `form` (its allowed origins, exactly)."""
    try:
        normalized = origin_normalize(origin, loc=("origin",))
    except FormInvalid:
        return False
    return normalized in (form.allowed_origins or [])


# --- Rate limit --------------------------------------------------------------------------------


def submission_throttle(
    *, form_id: int, client: str, limit: int, window: int, now: float | None = None
) -> int | None:
    """Count one submission of `client` to a form; the seconds to wait when over `limit`.

    A fixed window in Django's cache, shared by every web process (the database cache by
    default). On the database cache the increment is a read then a write, so two processes
    racing may both count the same number: a burst can pass the limit by a little, which is
    fine for keeping spam bots out; the Redis cache increments atomically. The counter is
    incremented first and only created when missing: one increment per submission (a read
    and a write on the database cache, one round trip on Redis), two for a window's first.
    """
    now = time.time() if now is None else now
    bucket = int(now // window)
    key = f"leadloop:form-rate:{form_id}:{client}:{bucket}"
    try:
        count = cache.incr(key)
    except ValueError:  # the window's first submission (or its counter expired)
        if cache.add(key, 1, timeout=window + 5):
            count = 1
        else:  # another process created it meanwhile
            try:
                count = cache.incr(key)
            except ValueError:
                cache.set(key, 1, timeout=window + 5)
                count = 1
    if count > limit:
        return max(1, int((bucket + 1) * window - now + 0.999))
    return None
