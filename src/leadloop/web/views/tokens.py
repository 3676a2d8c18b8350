"""API tokens of the signed-in user: create one (the key is shown once), revoke one."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from leadloop.accounts.selectors import token_list
from leadloop.accounts.services import token_create, token_revoke
from leadloop.common.errors import LeadloopError, NotFound
from leadloop.web.forms import TokenCreateForm
from leadloop.web.views.common import AuthedRequest

# The new key travels to the next page in the (server-side) session, never in a cookie
# message, and is removed as soon as it is shown.
_NEW_KEY = "web.new_token_key"


@login_required
@require_http_methods(["GET", "POST"])
def token_index(request: AuthedRequest) -> HttpResponse:
    form = TokenCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            issued = token_create(
                user=request.user,
                name=form.cleaned_data["name"],
                scopes=form.cleaned_data["scopes"],
            )
        except LeadloopError as e:
            form.add_error(None, e.message)
        else:
            request.session[_NEW_KEY] = {"key": issued.key, "name": issued.token.name}
            return redirect("web:tokens")
    return render(
        request,
        "web/settings/tokens.html",
        {
            "form": form,
            "new_token": request.session.pop(_NEW_KEY, None),
            "tokens": token_list(user=request.user),
        },
        status=400 if form.errors else 200,
    )


@login_required
@require_POST
def token_revoke_view(request: AuthedRequest, token_id: int) -> HttpResponse:
    try:
        token = token_revoke(user=request.user, token_id=token_id)
    except NotFound as e:
        raise Http404(e.message) from e
    messages.success(request, f"Token “{token.name}” revoked; requests using it are now refused.")
    return redirect("web:tokens")
