"""The public face of capture: no sign-in. Forms at /f/<slug>, the embed script, tracking.

``/f/<slug>`` serves the hosted page (GET) and takes submissions (POST) as an HTML form post
(redirect, or the page again with each error beside its field) or as JSON (``Accept:
application/json`` or a JSON body: ``{"ok": true, "redirect", "message"}``, or 400 with
``{"detail": [{"loc": ["fields", name], "msg", "type"}]}``). A POST is CSRF-exempt: it is
public by design, and browsers on other sites may post only from the form's allowed origins
(CORS: the preflight and the POST get ``Access-Control-Allow-Origin`` of that origin; any
other Origin gets 403 and no CORS headers). Each client address may post a form
LEADLOOP_FORM_RATE_LIMIT times per window; more gets 429 with Retry-After. A submission that
fits the form is stored and answered at once; a worker captures its lead and touch a moment
later (``loop.intake``).
"""

from __future__ import annotations

import base64
import contextlib
import json
from typing import Any, Final

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
)
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.cache import add_never_cache_headers, patch_vary_headers
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from leadloop.capture.forms import (
    choice_split,
    form_get_public,
    form_origin_allowed,
    submission_throttle,
)
from leadloop.capture.models import Form
from leadloop.capture.tracking import TrackingTokenInvalid, tracking_record
from leadloop.common.errors import NotFound
from leadloop.loop.forms import CONSENT, HONEYPOT, SubmissionInvalid
from leadloop.loop.intake import submission_receive

# A transparent GIF of one pixel.
PIXEL: Final = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
# The browser's autofill hint for each lead field a form field can fill.
_AUTOCOMPLETE: Final = {
    "email": "email",
    "first_name": "given-name",
    "last_name": "family-name",
    "title": "organization-title",
    "phone": "tel",
    "country": "country",
    "company_name": "organization",
    "company_domain": "url",
}
_JSON_ESCAPES: Final = {ord("<"): "\\u003C", ord(">"): "\\u003E", ord("&"): "\\u0026"}


# --- Helpers -----------------------------------------------------------------------------------


def _error(status: int, loc: list[str | int], msg: str, type: str) -> JsonResponse:
    return JsonResponse({"detail": [{"loc": loc, "msg": msg, "type": type}]}, status=status)


def _wants_json(request: HttpRequest) -> bool:
    return request.content_type == "application/json" or "application/json" in request.headers.get(
        "Accept", ""
    )


def _own_origin(request: HttpRequest) -> str:
    return f"{request.scheme}://{request.get_host()}"


def _foreign_origin(request: HttpRequest) -> str:
    """The Origin of a cross-origin browser request; "" for same-origin and non-browser ones."""
    origin = request.headers.get("Origin", "")
    return "" if not origin or origin == _own_origin(request) else origin


def _cors(response: HttpResponse, origin: str) -> HttpResponse:
    if origin:
        response["Access-Control-Allow-Origin"] = origin
    patch_vary_headers(response, ("Origin",))
    return response


def client_address(request: HttpRequest) -> str:
    """The client's address: REMOTE_ADDR, or the one LEADLOOP_TRUSTED_PROXIES hops back."""
    hops = settings.LEADLOOP_TRUSTED_PROXIES
    if hops:
        forwarded = [a.strip() for a in request.headers.get("X-Forwarded-For", "").split(",")]
        forwarded = [a for a in forwarded if a]
        if len(forwarded) >= hops:
            return forwarded[-hops]
    return str(request.META.get("REMOTE_ADDR", ""))


def _public_form(slug: str) -> Form:
    try:
        return form_get_public(slug=slug)
    except NotFound as e:
        raise Http404(e.message) from e


def form_definition(form: Form, *, action: str) -> dict[str, Any]:
    """What the embed script needs to draw a form: public, with no internal ids."""
    return {
        "slug": form.slug,
        "action": action,
        "fields": [
            {
                "name": f["name"],
                "label": f["label"],
                "type": f["type"],
                "required": f["required"],
                "choices": [list(choice_split(c)) for c in f["choices"]],
                "autocomplete": _AUTOCOMPLETE.get(f["maps_to"], ""),
            }
            for f in form.fields
        ],
        "consent": {"text": form.consent_text, "required": form.consent_required}
        if form.consent_text
        else None,
        "submit_label": form.submit_label,
        "honeypot": HONEYPOT,
    }


# --- The hosted page and submissions ----------------------------------------------------------


def _render_page(
    request: HttpRequest,
    form: Form,
    *,
    values: dict[str, Any],
    errors: dict[str, str],
    page_url: str,
    referrer: str,
    status: int = 200,
) -> HttpResponse:
    fields = [
        {
            **f,
            "value": values.get(f["name"], ""),
            "error": errors.get(f["name"], ""),
            "options": [choice_split(c) for c in f["choices"]],
            "autocomplete": _AUTOCOMPLETE.get(f["maps_to"], ""),
        }
        for f in form.fields
    ]
    offer = form.content_offer
    return render(
        request,
        "web/public/form.html",
        {
            "form": form,
            "heading": offer.name if offer else form.name,
            "intro": offer.description if offer else "",
            "fields": fields,
            "consent_checked": bool(values.get(CONSENT)),
            "consent_error": errors.get(CONSENT, ""),
            "page_url": page_url,
            "referrer": referrer,
            "error_count": len(errors),
            "honeypot": HONEYPOT,
        },
        status=status,
    )


def _posted(request: HttpRequest) -> tuple[dict[str, Any], str, str]:
    """(values, page URL, referrer) of a JSON or form-encoded submission; ValueError if unreadable."""
    if request.content_type == "application/json":
        body = json.loads(request.body or b"{}")
        if not isinstance(body, dict):
            raise ValueError("not an object")
        values = body.get("fields", {})
        if not isinstance(values, dict):
            raise ValueError("fields is not an object")
        values = dict(values)
        for key in (CONSENT, HONEYPOT):
            if key in body:
                values.setdefault(key, body[key])
        return values, str(body.get("page_url") or ""), str(body.get("referrer") or "")
    values = {k: request.POST.get(k, "") for k in request.POST}
    return values, values.pop("page_url", ""), values.pop("referrer", "")


@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST", "OPTIONS"])
def form_page(request: HttpRequest, slug: str) -> HttpResponse:
    """GET: the hosted form. OPTIONS: the CORS preflight. POST: a submission."""
    try:
        form = form_get_public(slug=slug)
    except NotFound as e:
        if request.method in ("GET", "HEAD") or not _wants_json(request):
            raise Http404(e.message) from e
        return _error(404, ["slug"], e.message, e.code)
    origin = _foreign_origin(request)
    if request.method in ("GET", "HEAD"):
        return _render_page(
            request,
            form,
            values={},
            errors={},
            page_url=request.build_absolute_uri(),
            referrer=request.headers.get("Referer", ""),
        )
    if origin and not form_origin_allowed(form=form, origin=origin):
        return _error(
            403,
            ["origin"],
            f"Pages on {origin} may not post the form {form.slug!r}: add the origin to the "
            "form's allowed origins in Leadloop.",
            "origin_not_allowed",
        )
    if request.method == "OPTIONS":
        response = HttpResponse(status=204)
        response["Access-Control-Allow-Methods"] = "POST, OPTIONS"
        response["Access-Control-Allow-Headers"] = "Content-Type, Accept"
        response["Access-Control-Max-Age"] = "600"
        return _cors(response, origin)
    return _cors(_submit(request, form), origin)


def _submit(request: HttpRequest, form: Form) -> HttpResponse:
    wants_json = _wants_json(request)
    limit = settings.LEADLOOP_FORM_RATE_LIMIT
    if limit is not None:
        wait = submission_throttle(
            form_id=form.pk, client=client_address(request), limit=limit[0], window=limit[1]
        )
        if wait is not None:
            msg = f"Too many submissions from your address; please try again in {wait} seconds."
            response: HttpResponse = (
                _error(429, [], msg, "throttled")
                if wants_json
                else HttpResponse(msg, status=429, content_type="text/plain; charset=utf-8")
            )
            response["Retry-After"] = str(wait)
            return response
    try:
        values, page_url, referrer = _posted(request)
    except (ValueError, UnicodeDecodeError):
        return _error(400, ["body"], "The body is not a JSON object.", "invalid_json")
    try:
        done = submission_receive(form=form, values=values, page_url=page_url, referrer=referrer)
    except SubmissionInvalid as e:
        if wants_json:
            return JsonResponse(
                {
                    "detail": [
                        {"loc": ["fields", name], "msg": msg, "type": e.code}
                        for name, msg in e.errors.items()
                    ]
                },
                status=400,
            )
        return _render_page(
            request,
            form,
            values=values,
            errors=e.errors,
            page_url=page_url,
            referrer=referrer,
            status=400,
        )
    if wants_json:
        return JsonResponse({"ok": True, "redirect": done.redirect, "message": done.message})
    if done.redirect:
        return HttpResponseRedirect(done.redirect)
    return render(request, "web/public/thanks.html", {"form": form, "message": done.message})


@require_GET
def form_json(request: HttpRequest, slug: str) -> HttpResponse:
    """The public definition of a form, for the embed script and other front ends."""
    form = _public_form(slug)
    origin = _foreign_origin(request)
    response = JsonResponse(
        form_definition(form, action=request.build_absolute_uri(f"/f/{form.slug}"))
    )
    response["Cache-Control"] = "public, max-age=60"
    return _cors(response, origin if form_origin_allowed(form=form, origin=origin) else "")


@require_GET
def form_embed_js(request: HttpRequest, slug: str) -> HttpResponse:
    """The embed script with the form's definition inlined: one request draws the form."""
    form = _public_form(slug)
    definition = json.dumps(
        form_definition(form, action=request.build_absolute_uri(f"/f/{form.slug}")),
        cls=DjangoJSONEncoder,
    ).translate(_JSON_ESCAPES)
    script = render_to_string("web/public/embed.js", {"definition": definition})
    response = HttpResponse(script, content_type="text/javascript; charset=utf-8")
    response["Cache-Control"] = "public, max-age=60"
    return response


# --- Tracking ----------------------------------------------------------------------------------


@require_GET
def track_click(request: HttpRequest, token: str) -> HttpResponse:
    """Record the click a signed link stands for, then redirect to its destination."""
    try:
        tracked = tracking_record(token=token, user_agent=request.headers.get("User-Agent", ""))
    except TrackingTokenInvalid:
        return render(request, "web/public/link_invalid.html", status=404)
    if not tracked.link.url:
        return render(request, "web/public/link_invalid.html", status=404)
    response = HttpResponseRedirect(tracked.link.url)
    add_never_cache_headers(response)
    return response


@require_GET
def track_open(request: HttpRequest, token: str) -> HttpResponse:
    """Record an e-mail open; always answer the transparent GIF, whatever the token."""
    with contextlib.suppress(TrackingTokenInvalid):
        tracking_record(token=token, user_agent=request.headers.get("User-Agent", ""))
    response = HttpResponse(PIXEL, content_type="image/gif")
    add_never_cache_headers(response)
    return response
