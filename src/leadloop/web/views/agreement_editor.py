"""The agreement editor's form: a body as the rows and fields of the page, and back.

Inputs are named by their place: ``group-<i>-engagement_min``, ``rule-<i>-rep-<j>-username``,
``reason-<i>-action``, ``sales-first_response_hours``, ``handoff-mode`` … in the order shown
(the editor's script renumbers rows as they are added, moved or removed). The state keeps
what was typed as text, so a refused draft is shown again as typed, each error beside its
input (``agreements.validation`` names every problem with its loc in the body).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from django.http import QueryDict

from leadloop.agreements.validation import FieldError

State = dict[str, Any]

_ROW = re.compile(r"^(group|raiser|rule|reason)-(\d+)-(.+)$")
_REP = re.compile(r"^rep-(\d+)-(username|weight)$")
_GROUP_FIELDS: Final = ("fit_grade_min", "engagement_min", "predicted_min")
_RULE_FIELDS: Final = (
    "name",
    "kind",
    "countries",
    "regions",
    "sectors",
    "size_min",
    "size_max",
    "team",
)
_REASON_FIELDS: Final = ("kind", "code", "label", "action", "track", "recycle_days")
_ROUTING_FIELDS: Final = ("cap_per_day", "cap_per_week", "marketing_queue", "fallback_queue")
_SALES_FIELDS: Final = (
    "first_response_hours",
    "contact_attempt_hours",
    "decision_days",
    "remind_before_hours",
)
_SALES_FLAGS: Final = ("pause_when_out_of_office", "reassign_on_breach")
_MARKETING_FIELDS: Final = ("period", "mqls_per_period", "good_fit_share", "accepted_share")
_SHARES: Final = frozenset({"good_fit_share", "accepted_share"})
_HANDOFF_FIELDS: Final = ("mode", "weekday", "time", "time_zone")
TRIGGER_KEYS: Final = ("touch_kind", "form_slug", "content_kind")


# --- Text <-> values ------------------------------------------------------------------------------


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _pct_text(value: Any) -> str:
    return "" if value is None else f"{round(float(value) * 100, 2):g}"


def _number(text: str, *, whole: bool) -> Any:
    """A number from the form; blank is None; text that is not a number is passed on as typed
    so the schema names the field."""
    text = text.strip()
    if not text:
        return None
    try:
        return int(text) if whole else float(text)
    except ValueError:
        return text


def _share(text: str) -> Any:
    value = _number(text, whole=False)
    return value / 100 if isinstance(value, float) else value


def _words(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


# --- Body -> state -------------------------------------------------------------------------------


def _trigger(raiser: Mapping[str, Any]) -> str:
    for key in TRIGGER_KEYS:
        if raiser.get(key):
            return f"{key}:{raiser[key]}"
    return ""


def editor_from_body(*, title: str, preamble: str, body: Mapping[str, Any]) -> State:
    """The editor's state for a stored body (every value as the text an input shows)."""
    q, routing, slas = body["qualification"], body["routing"], body["slas"]
    return {
        "title": title,
        "preamble": preamble,
        "groups": [
            {
                "fit_grade_min": _text(g.get("fit_grade_min")),
                "engagement_min": _text(g.get("engagement_min")),
                "predicted_min": _pct_text(g.get("predicted_min")),
            }
            for g in q["groups"]
        ],
        "raisers": [
            {"label": r.get("label", ""), "trigger": _trigger(r)} for r in q["hand_raisers"]
        ],
        "rules": [
            {
                "name": r["name"],
                "kind": r["kind"],
                "countries": ", ".join(r.get("countries", [])),
                "regions": ", ".join(r.get("regions", [])),
                "sectors": ", ".join(r.get("sectors", [])),
                "size_min": _text(r.get("size_min")),
                "size_max": _text(r.get("size_max")),
                "team": r.get("team", ""),
                "reps": [
                    {"username": p["username"], "weight": _text(p.get("weight", 1))}
                    for p in r.get("reps", [])
                ],
            }
            for r in routing["rules"]
        ],
        "routing": {
            **{f: _text(routing.get(f)) for f in _ROUTING_FIELDS},
            "skip_out_of_office": bool(routing.get("skip_out_of_office", True)),
        },
        "sales": {
            **{f: _text(slas["sales"].get(f)) for f in _SALES_FIELDS},
            **{f: bool(slas["sales"].get(f)) for f in _SALES_FLAGS},
        },
        "marketing": {
            f: (_pct_text if f in _SHARES else _text)(slas["marketing"].get(f))
            for f in _MARKETING_FIELDS
        },
        "reasons": [{f: _text(r.get(f)) for f in _REASON_FIELDS} for r in body["reasons"]],
        "handoff": {f: _text(body["handoff"].get(f)) for f in _HANDOFF_FIELDS},
        "errors": {},
    }


# --- Post -> state -------------------------------------------------------------------------------


def _blank(row: Mapping[str, Any], keys: Sequence[str]) -> bool:
    return not any(str(row.get(k, "")).strip() for k in keys)


def editor_from_post(post: QueryDict) -> State:
    """The editor's state from a posted page: rows in the order of their numbers; rows left
    wholly blank are dropped."""
    rows: dict[str, dict[int, dict[str, Any]]] = {
        "group": {},
        "raiser": {},
        "rule": {},
        "reason": {},
    }
    for key in post:
        match = _ROW.match(key)
        if not match:
            continue
        kind, index, field = match[1], int(match[2]), match[3]
        row = rows[kind].setdefault(index, {})
        rep = _REP.match(field) if kind == "rule" else None
        if rep:
            row.setdefault("_reps", {}).setdefault(int(rep[1]), {})[rep[2]] = post.get(key, "")
        else:
            row[field] = post.get(key, "")

    def ordered(kind: str) -> list[dict[str, Any]]:
        return [row for _, row in sorted(rows[kind].items())]

    groups = [
        {f: str(r.get(f, "")).strip() for f in _GROUP_FIELDS}
        for r in ordered("group")
        if not _blank(r, _GROUP_FIELDS)
    ]
    raisers = [
        {"label": str(r.get("label", "")).strip(), "trigger": str(r.get("trigger", ""))}
        for r in ordered("raiser")
        if not _blank(r, ("label", "trigger"))
    ]
    rules = []
    for r in ordered("rule"):
        reps = [
            {"username": str(p.get("username", "")), "weight": str(p.get("weight", "")).strip()}
            for _, p in sorted(r.get("_reps", {}).items())
            if str(p.get("username", "")).strip()
        ]
        if (
            _blank(r, ("name", "countries", "regions", "sectors", "size_min", "size_max", "team"))
            and not reps
        ):
            continue
        rules.append({**{f: str(r.get(f, "")).strip() for f in _RULE_FIELDS}, "reps": reps})
    reasons = [
        {f: str(r.get(f, "")).strip() for f in _REASON_FIELDS}
        for r in ordered("reason")
        if not _blank(r, ("code", "label", "track", "recycle_days"))
    ]
    return {
        "title": post.get("title", ""),
        "preamble": post.get("preamble", ""),
        "groups": groups,
        "raisers": raisers,
        "rules": rules,
        "routing": {
            **{f: post.get(f"routing-{f}", "").strip() for f in _ROUTING_FIELDS},
            "skip_out_of_office": bool(post.get("routing-skip_out_of_office")),
        },
        "sales": {
            **{f: post.get(f"sales-{f}", "").strip() for f in _SALES_FIELDS},
            **{f: bool(post.get(f"sales-{f}")) for f in _SALES_FLAGS},
        },
        "marketing": {f: post.get(f"marketing-{f}", "").strip() for f in _MARKETING_FIELDS},
        "reasons": reasons,
        "handoff": {f: post.get(f"handoff-{f}", "").strip() for f in _HANDOFF_FIELDS},
        "errors": {},
    }


# --- State -> body -------------------------------------------------------------------------------


def _group_body(group: Mapping[str, str]) -> dict[str, Any]:
    return {
        "fit_grade_min": group["fit_grade_min"] or None,
        "engagement_min": _number(group["engagement_min"], whole=True),
        "predicted_min": _share(group["predicted_min"]),
    }


def _raiser_body(raiser: Mapping[str, str]) -> dict[str, Any]:
    key, _, value = raiser["trigger"].partition(":")
    out: dict[str, Any] = {"label": raiser["label"]}
    if key in TRIGGER_KEYS and value:
        out[key] = value
    return out


def _rule_body(rule: Mapping[str, Any]) -> dict[str, Any]:
    """A rule keeps only the fields its kind uses (the page shows those)."""
    kind = rule["kind"]
    out: dict[str, Any] = {"name": rule["name"], "kind": kind}
    if kind == "territory":
        out["countries"] = [c.upper() if len(c) == 2 else c for c in _words(rule["countries"])]
        out["regions"] = _words(rule["regions"])
    elif kind == "sector":
        out["sectors"] = _words(rule["sectors"])
    elif kind == "company_size":
        out["size_min"] = _number(rule["size_min"], whole=True)
        out["size_max"] = _number(rule["size_max"], whole=True)
    if kind != "named_account":
        out["team"] = rule["team"]
        out["reps"] = [
            {"username": p["username"], "weight": _number(p["weight"], whole=True) or 1}
            for p in rule["reps"]
        ]
    return out


def _reason_body(reason: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {f: reason[f] for f in ("kind", "code", "label", "action")}
    if reason["action"] in ("nurture", "recycle"):
        out["track"] = reason["track"]
    if reason["action"] == "recycle":
        out["recycle_days"] = _number(reason["recycle_days"], whole=True)
    return out


def body_from_editor(state: State) -> dict[str, Any]:
    """The body the editor's state describes, for ``agreement_draft_create`` / ``_update``."""
    routing, sales, marketing, handoff = (
        state["routing"],
        state["sales"],
        state["marketing"],
        state["handoff"],
    )
    return {
        "qualification": {
            "groups": [_group_body(g) for g in state["groups"]],
            "hand_raisers": [_raiser_body(r) for r in state["raisers"]],
        },
        "routing": {
            "rules": [_rule_body(r) for r in state["rules"]],
            "cap_per_day": _number(routing["cap_per_day"], whole=True),
            "cap_per_week": _number(routing["cap_per_week"], whole=True),
            "skip_out_of_office": routing["skip_out_of_office"],
            "marketing_queue": routing["marketing_queue"],
            "fallback_queue": routing["fallback_queue"],
        },
        "slas": {
            "sales": {
                **{f: _number(sales[f], whole=False) for f in _SALES_FIELDS},
                **{f: sales[f] for f in _SALES_FLAGS},
            },
            "marketing": {
                "period": marketing["period"],
                "mqls_per_period": _number(marketing["mqls_per_period"], whole=True),
                "good_fit_share": _share(marketing["good_fit_share"]),
                "accepted_share": _share(marketing["accepted_share"]),
            },
        },
        "reasons": [_reason_body(r) for r in state["reasons"]],
        "handoff": {
            "mode": handoff["mode"],
            "weekday": _number(handoff["weekday"], whole=True),
            "time": handoff["time"],
            "time_zone": handoff["time_zone"],
        },
    }


# --- Errors beside their inputs -------------------------------------------------------------------

_ROW_LISTS: Final[dict[tuple[str | int, ...], str]] = {
    ("qualification", "groups"): "groups",
    ("qualification", "hand_raisers"): "raisers",
    ("routing", "rules"): "rules",
}
_PLAIN: Final[dict[tuple[str | int, ...], str]] = {
    ("routing",): "routing",
    ("slas", "sales"): "sales",
    ("slas", "marketing"): "marketing",
    ("handoff",): "handoff",
}
# Hand-raiser fields all show beside the one trigger select.
_RAISER_FIELD: Final = {"touch_kind": "trigger", "form_slug": "trigger", "content_kind": "trigger"}


def _put(errors: dict[str, str], key: str, message: str) -> None:
    errors[key] = f"{errors[key]} {message}" if key in errors else message


def _row_error(
    rows: list[dict[str, Any]], index: int, rest: Sequence[str | int], message: str
) -> bool:
    if not 0 <= index < len(rows):
        return False
    row = rows[index]
    errors = row.setdefault("errors", {})
    if len(rest) >= 3 and rest[0] == "reps" and isinstance(rest[1], int):
        reps = row.get("reps", [])
        if 0 <= rest[1] < len(reps):
            _put(reps[rest[1]].setdefault("errors", {}), str(rest[2]), message)
            return True
    field = str(rest[0]) if rest and isinstance(rest[0], str) else "row"
    _put(errors, _RAISER_FIELD.get(field, field), message)
    return True


def editor_errors(state: State, errors: Sequence[FieldError]) -> None:
    """Attach each error to its row or input: ``state["groups"][0]["errors"]["engagement_min"]``,
    ``state["errors"]["sales"]["decision_days"]``, ``state["errors"]["title"]``; what has no
    input of its own goes to ``state["errors"]["banner"]``."""
    top: dict[str, Any] = state["errors"]
    for error in errors:
        loc: tuple[str | int, ...] = error.loc[1:] if error.loc[:1] == ("body",) else error.loc
        if not (_place_in_row(state, loc, error.message) or _place_plain(top, loc, error.message)):
            top.setdefault("banner", []).append(error.message)


def _place_in_row(state: State, loc: tuple[str | int, ...], message: str) -> bool:
    lists = {**_ROW_LISTS, ("reasons",): "reasons"}
    for prefix, key in lists.items():
        n = len(prefix)
        index = loc[n] if len(loc) > n else None
        if loc[:n] == prefix and isinstance(index, int):
            return _row_error(state[key], index, loc[n + 1 :], message)
    return False


def _place_plain(top: dict[str, Any], loc: tuple[str | int, ...], message: str) -> bool:
    for prefix, key in _PLAIN.items():
        n = len(prefix)
        field = loc[n] if len(loc) > n else None
        if loc[:n] == prefix and isinstance(field, str):
            _put(top.setdefault(key, {}), field, message)
            return True
    if loc in (("title",), ("preamble",)):
        _put(top, str(loc[0]), message)
        return True
    return False
