"""The predictive model's card: the same JSON the model card page draws its chart from."""

from __future__ import annotations

from typing import Any, Final

from django.http import HttpRequest
from ninja import Router

from leadloop.api.auth import TokenAuth
from leadloop.api.errors import ErrorOut
from leadloop.common.errors import NotFound
from leadloop.scoring.registry import model_card

router = Router(tags=["scoring"])

_ERRORS: Final = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}


@router.get(
    "/scoring/model",
    response={200: dict[str, Any], **_ERRORS},
    auth=TokenAuth("reports:read"),
    url_name="scoring_model",
    summary="The predictive model's metrics",
    description=(
        "The active model (else the newest, or `version`): AUC, Brier, log loss, base rate, "
        "sizes, features, the calibration table (10 bins), and the time-split and random-split "
        "figures with a note on drift. 404 when no model was trained. Needs `reports:read`."
    ),
)
def scoring_model(request: HttpRequest, version: int | None = None) -> dict[str, Any]:
    card = model_card(version=version)
    if card is None:
        raise NotFound(
            "No model yet - import leads with known outcomes, then train.", loc=("version",)
        )
    return card
