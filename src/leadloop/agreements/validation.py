"""Checking an agreement body: the schema (pydantic), then every name it uses.

Every problem becomes a ``FieldError`` whose loc is ("body", *the field's path) and whose
message names the field in words ('Routing rule 2 ("DACH"), countries: ...'), so the editor
shows it beside the field and the API answers it in its one error shape.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError

from leadloop.accounts.models import Team, User
from leadloop.agreements.schema import AgreementBody
from leadloop.capture.models import Form, TouchKind
from leadloop.common.errors import LeadloopError
from leadloop.content.models import ContentKind


@dataclass(frozen=True)
class FieldError:
    loc: tuple[str | int, ...]
    message: str


class AgreementInvalid(LeadloopError):
    """A body that does not validate; ``errors`` holds every problem, the message the first."""

    code = "agreement_invalid"

    def __init__(
        self,
        message: str,
        *,
        loc: tuple[str | int, ...] = (),
        errors: Sequence[FieldError] = (),
    ) -> None:
        super().__init__(message, loc=loc)
        self.errors: tuple[FieldError, ...] = tuple(errors) or (FieldError(loc, message),)


def _invalid(errors: Sequence[FieldError]) -> AgreementInvalid:
    first = errors[0]
    message = first.message
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return AgreementInvalid(message, loc=first.loc, errors=errors)


# --- Validation --------------------------------------------------------------------------------

_LISTS: Final[dict[tuple[str | int, ...], str]] = {
    ("qualification", "groups"): "Threshold group",
    ("qualification", "hand_raisers"): "Hand-raiser",
    ("routing", "rules"): "Routing rule",
    ("reps",): "rep",
    ("reasons",): "Reason",
}
_PARTS: Final[dict[tuple[str | int, ...], str]] = {
    ("slas", "sales"): "Sales SLA",
    ("slas", "marketing"): "Marketing SLA",
    ("qualification",): "Qualification",
    ("routing",): "Routing",
    ("slas",): "SLAs",
    ("handoff",): "Hand-off",
}
FIELD_WORDS: Final[dict[str, str]] = {
    "fit_grade_min": "fit grade at least",
    "engagement_min": "engagement at least",
    "predicted_min": "predicted probability at least",
    "touch_kind": "touch kind",
    "form_slug": "form",
    "content_kind": "content kind",
    "label": "label",
    "name": "name",
    "kind": "kind",
    "countries": "countries",
    "regions": "regions",
    "sectors": "sectors",
    "size_min": "company size from",
    "size_max": "company size to",
    "team": "team",
    "username": "username",
    "weight": "weight",
    "cap_per_day": "cap per rep and day",
    "cap_per_week": "cap per rep and week",
    "skip_out_of_office": "skip reps out of office",
    "marketing_queue": "marketing queue",
    "fallback_queue": "fallback queue",
    "first_response_hours": "first response (business hours)",
    "contact_attempt_hours": "contact attempt (business hours)",
    "decision_days": "decision (business days)",
    "remind_before_hours": "reminder before the deadline (hours)",
    "pause_when_out_of_office": "pause while the owner is out of office",
    "reassign_on_breach": "reassign on breach",
    "period": "period",
    "mqls_per_period": "MQLs per period",
    "good_fit_share": "good-fit share",
    "accepted_share": "accepted share",
    "code": "code",
    "action": "next action",
    "track": "nurture track",
    "recycle_days": "recycle after (days)",
    "mode": "mode",
    "weekday": "weekday",
    "time": "time",
    "time_zone": "time zone",
}


def _item_name(item: Any) -> str:
    if not isinstance(item, Mapping):
        return ""
    for key in ("name", "label", "username", "code"):
        value = item.get(key)
        if isinstance(value, str) and value.strip():
            return f' ("{value.strip()}")'
    return ""


def loc_words(loc: Sequence[str | int], body: Any) -> str:
    """Where `loc` points in a body, in words: ('routing', 'rules', 1, 'team') -> 'Routing
    rule 2 ("DACH"), team'."""
    parts: list[str] = []
    node: Any = body
    i = 0
    while i < len(loc):
        pair, one = tuple(loc[i : i + 2]), tuple(loc[i : i + 1])
        step = next((p for p in (pair, one) if p in _LISTS), None)
        after = loc[i + len(step)] if step and i + len(step) < len(loc) else None
        if step is not None and isinstance(after, int):
            for key in step:
                node = node.get(key) if isinstance(node, Mapping) else None
            item = node[after] if isinstance(node, list) and 0 <= after < len(node) else None
            parts.append(f"{_LISTS[step]} {after + 1}{_item_name(item)}")
            node, i = item, i + len(step) + 1
            continue
        part = next((p for p in (pair, one) if p in _PARTS), None)
        if part is not None:
            parts.append(_PARTS[part])
            for key in part:
                node = node.get(key) if isinstance(node, Mapping) else None
            i += len(part)
            continue
        key = loc[i]
        if isinstance(key, int):
            parts.append(f"item {key + 1}")
            node = node[key] if isinstance(node, list) and 0 <= key < len(node) else None
        else:
            parts.append(FIELD_WORDS.get(key, key.replace("_", " ")))
            node = node.get(key) if isinstance(node, Mapping) else None
        i += 1
    words = ", ".join(parts) or "The agreement"
    return words[:1].upper() + words[1:]


def _message(msg: str) -> str:
    for prefix in ("Value error, ", "Assertion failed, "):
        msg = msg.removeprefix(prefix)
    replacements = {
        "Field required": "is required",
        "String should have at least 1 character": "must not be empty",
        "Extra inputs are not permitted": "is not part of an agreement",
    }
    return replacements.get(msg, msg)


# Shares are typed as percentages in the editor: say the range both ways.
_SHARES: Final = {
    "predicted_min": "must be above 0 and at most 1 (0 % to 100 %)",
    "good_fit_share": "must be from 0 to 1 (0 % to 100 %)",
    "accepted_share": "must be from 0 to 1 (0 % to 100 %)",
}
_RANGE_ERRORS: Final = frozenset({"less_than_equal", "greater_than", "greater_than_equal"})


def _schema_errors(exc: ValidationError, body: Mapping[str, Any]) -> list[FieldError]:
    errors = []
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        text = _message(str(error["msg"]))
        if loc and loc[-1] in _SHARES and error["type"] in _RANGE_ERRORS:
            text = _SHARES[str(loc[-1])]
        if len(loc) >= 2 and loc[-2] == "reasons" and "recycle action needs" in text:
            loc, text = (*loc, "recycle_days"), "a recycle action needs the number of days"
        if not loc:
            loc, text = _model_error(body, text)
        errors.append(FieldError(("body", *loc), f"{loc_words(loc, body)}: {text}."))
    return errors


def _model_error(body: Mapping[str, Any], text: str) -> tuple[tuple[str | int, ...], str]:
    """Point a body-wide error (a repeated reason or rule name) at the row that repeats."""
    reasons = body.get("reasons")
    seen: set[tuple[Any, Any]] = set()
    for index, reason in enumerate(reasons if isinstance(reasons, list) else []):
        if not isinstance(reason, Mapping):
            continue
        kind, code = reason.get("kind"), reason.get("code")
        if (kind, code) in seen:
            return ("reasons", index, "code"), f"the code {code!r} is used by another {kind} reason"
        seen.add((kind, code))
    routing = body.get("routing")
    rules = routing.get("rules") if isinstance(routing, Mapping) else None
    names: set[Any] = set()
    for index, rule in enumerate(rules if isinstance(rules, list) else []):
        name = rule.get("name") if isinstance(rule, Mapping) else None
        if name in names:
            return ("routing", "rules", index, "name"), "another rule has this name"
        names.add(name)
    return (), text


def _err(loc: tuple[str | int, ...], body: Mapping[str, Any], text: str) -> FieldError:
    return FieldError(("body", *loc), f"{loc_words(loc, body)}: {text}.")


def _routing_errors(parsed: AgreementBody, body: Mapping[str, Any]) -> list[FieldError]:
    routing = parsed.routing
    errors: list[FieldError] = []
    queues = {routing.marketing_queue.strip(), routing.fallback_queue.strip()}
    for field in ("marketing_queue", "fallback_queue"):
        if not getattr(routing, field).strip():
            errors.append(_err(("routing", field), body, "name the team queue"))
    teams = set(Team.objects.values_list("name", flat=True)) | queues
    usernames = {r.username for rule in routing.rules for r in rule.reps}
    active = set(
        User.objects.filter(username__in=usernames, is_active=True).values_list(
            "username", flat=True
        )
    )
    if (
        routing.cap_per_day is not None
        and routing.cap_per_week is not None
        and routing.cap_per_week < routing.cap_per_day
    ):
        errors.append(
            _err(
                ("routing", "cap_per_week"),
                body,
                f"{routing.cap_per_week} a week is less than {routing.cap_per_day} a day",
            )
        )
    for i, rule in enumerate(routing.rules):
        at: tuple[str | int, ...] = ("routing", "rules", i)
        if rule.team and rule.team not in teams:
            known = ", ".join(sorted(teams)) or "none yet"
            errors.append(
                _err((*at, "team"), body, f'there is no team "{rule.team}" (teams: {known})')
            )
        if rule.kind != "named_account" and not rule.team and not rule.reps:
            errors.append(_err((*at, "team"), body, "name a team or at least one rep"))
        if rule.kind == "territory" and not (rule.countries or rule.regions):
            errors.append(_err((*at, "countries"), body, "a territory needs countries or regions"))
        if rule.kind == "sector" and not rule.sectors:
            errors.append(_err((*at, "sectors"), body, "a sector rule needs sectors"))
        if rule.kind == "company_size":
            if rule.size_min is None and rule.size_max is None:
                errors.append(_err((*at, "size_min"), body, "give a size from, a size to, or both"))
            elif (
                rule.size_min is not None
                and rule.size_max is not None
                and rule.size_max < rule.size_min
            ):
                errors.append(
                    _err((*at, "size_max"), body, f"{rule.size_max} is below {rule.size_min}")
                )
        seen: set[str] = set()
        for j, rep in enumerate(rule.reps):
            if rep.username not in active:
                errors.append(
                    _err(
                        (*at, "reps", j, "username"),
                        body,
                        f'there is no active user "{rep.username}"',
                    )
                )
            elif rep.username in seen:
                errors.append(_err((*at, "reps", j, "username"), body, "listed twice"))
            seen.add(rep.username)
    return errors


def _other_errors(parsed: AgreementBody, body: Mapping[str, Any]) -> list[FieldError]:
    errors: list[FieldError] = []
    slugs = {h.form_slug for h in parsed.qualification.hand_raisers if h.form_slug}
    forms = set(Form.objects.filter(slug__in=slugs).values_list("slug", flat=True))
    for i, raiser in enumerate(parsed.qualification.hand_raisers):
        at: tuple[str | int, ...] = ("qualification", "hand_raisers", i)
        if raiser.touch_kind and raiser.touch_kind not in TouchKind.values:
            errors.append(
                _err(
                    (*at, "touch_kind"),
                    body,
                    f"{raiser.touch_kind!r} is not a touch kind "
                    f"(use one of {', '.join(TouchKind.values)})",
                )
            )
        if raiser.content_kind and raiser.content_kind not in ContentKind.values:
            errors.append(
                _err(
                    (*at, "content_kind"),
                    body,
                    f"{raiser.content_kind!r} is not a content kind "
                    f"(use one of {', '.join(ContentKind.values)})",
                )
            )
        if raiser.form_slug and raiser.form_slug not in forms:
            errors.append(_err((*at, "form_slug"), body, f"there is no form {raiser.form_slug!r}"))
    try:
        ZoneInfo(parsed.handoff.time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        errors.append(
            _err(
                ("handoff", "time_zone"),
                body,
                f"{parsed.handoff.time_zone!r} is not a time zone such as Europe/Berlin",
            )
        )
    return errors


def agreement_body_validate(*, body: Mapping[str, Any]) -> AgreementBody:
    """`body` parsed, with every team, person, form and kind it names checked. Raises
    AgreementInvalid listing every problem, each with its loc ("body", ...) and a message
    naming the field in words."""
    try:
        parsed = AgreementBody.model_validate(body)
    except ValidationError as exc:
        raise _invalid(_schema_errors(exc, body)) from None
    errors = _routing_errors(parsed, body) + _other_errors(parsed, body)
    if errors:
        raise _invalid(errors)
    return parsed
