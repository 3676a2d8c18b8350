"""The web UI's URLs."""

from django.urls import path

from leadloop.web.views import auth, dashboard, duplicates, leads, public, scoring, tokens
from leadloop.web.views import forms as form_views
from leadloop.web.views import imports as import_views
from leadloop.web.views import model_card as model_views

app_name = "web"
urlpatterns = [
    path("", dashboard.dashboard, name="dashboard"),
    path("login/", auth.LoginView.as_view(), name="login"),
    path("logout/", auth.LogoutView.as_view(), name="logout"),
    path("leads/", leads.lead_index, name="lead_list"),
    path("leads/search/", leads.lead_search, name="lead_search"),
    path("leads/duplicates/", duplicates.duplicate_index, name="duplicate_list"),
    path(
        "leads/duplicates/<int:a_id>/<int:b_id>/",
        duplicates.duplicate_compare,
        name="duplicate_compare",
    ),
    path(
        "leads/duplicates/<int:a_id>/<int:b_id>/merge/",
        duplicates.duplicate_merge,
        name="duplicate_merge",
    ),
    path(
        "leads/duplicates/<int:a_id>/<int:b_id>/dismiss/",
        duplicates.duplicate_dismiss_view,
        name="duplicate_dismiss",
    ),
    path("leads/<int:lead_id>/", leads.lead_detail, name="lead_detail"),
    path("settings/tokens/", tokens.token_index, name="tokens"),
    path("settings/tokens/<int:token_id>/revoke/", tokens.token_revoke_view, name="token_revoke"),
    path("imports/", import_views.import_index, name="import_list"),
    path("imports/new", import_views.import_new, name="import_new"),
    path("imports/<int:job_id>/", import_views.import_detail, name="import_detail"),
    path("imports/<int:job_id>/progress", import_views.import_progress, name="import_progress"),
    path(
        "imports/<int:job_id>/rejects.csv",
        import_views.import_rejects_csv,
        name="import_rejects_csv",
    ),
    path("imports/<int:job_id>/resume", import_views.import_resume, name="import_resume"),
    path("scoring/fit/", scoring.fit_rules, name="scoring_fit"),
    path(
        "scoring/fit/<int:ruleset_id>/activate/", scoring.fit_activate, name="scoring_fit_activate"
    ),
    path("scoring/engagement/", scoring.engagement_rules, name="scoring_engagement"),
    path(
        "scoring/engagement/<int:ruleset_id>/activate/",
        scoring.engagement_activate,
        name="scoring_engagement_activate",
    ),
    path("scoring/progress/", scoring.rescore_status, name="scoring_progress"),
    path("scoring/model/", model_views.model_index, name="model_card"),
    path("scoring/model/train", model_views.model_train_view, name="model_train"),
    path("scoring/model/training", model_views.model_training_status, name="model_training_status"),
    path(
        "scoring/model/<int:version>/activate",
        model_views.model_activate_view,
        name="model_activate",
    ),
    path("forms/", form_views.form_index, name="form_list"),
    path("forms/new/", form_views.form_new, name="form_new"),
    path("forms/<int:form_id>/edit/", form_views.form_edit, name="form_edit"),
    # Public, no sign-in: hosted and embedded forms, tracked links, the open pixel.
    path("f/<slug:slug>.json", public.form_json, name="form_json"),
    path("f/<slug:slug>/embed.js", public.form_embed_js, name="form_embed_js"),
    path("f/<slug:slug>", public.form_page, name="form_page"),
    path("t/<str:token>", public.track_click, name="track_click"),
    path("o/<str:token>.gif", public.track_open, name="track_open"),
]
