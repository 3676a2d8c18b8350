"""The web UI's URLs."""

from django.urls import path

from leadloop.web.views import agreement as agreement_views
from leadloop.web.views import auth, dashboard, duplicates, leads, public, scoring, tokens
from leadloop.web.views import compliance as compliance_views
from leadloop.web.views import forms as form_views
from leadloop.web.views import imports as import_views
from leadloop.web.views import inbox as inbox_views
from leadloop.web.views import model_card as model_views
from leadloop.web.views import notifications as notification_views
from leadloop.web.views import routing as routing_views
from leadloop.web.views import webhooks as webhook_views

app_name = "web"
urlpatterns = [
    # Public, no sign-in: hosted and embedded forms, tracked links, the open pixel. First: they
    # take the traffic, and Django tries the patterns in order (last, they cost 0.4 ms each).
    path("f/<slug:slug>.json", public.form_json, name="form_json"),
    path("f/<slug:slug>/embed.js", public.form_embed_js, name="form_embed_js"),
    path("f/<slug:slug>", public.form_page, name="form_page"),
    path("t/<str:token>", public.track_click, name="track_click"),
    path("o/<str:token>.gif", public.track_open, name="track_open"),
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
    path("leads/<int:lead_id>/stage/", leads.lead_move_view, name="lead_move"),
    path("leads/<int:lead_id>/assign/", routing_views.lead_assign_view, name="lead_assign"),
    path("leads/<int:lead_id>/stage/panel/", leads.lead_stage_panel, name="lead_stage_panel"),
    path(
        "leads/<int:lead_id>/duplicate-options/",
        leads.lead_duplicate_options,
        name="lead_duplicate_options",
    ),
    path("routing/", routing_views.routing_overview, name="routing"),
    path("routing/away/", routing_views.out_of_office_index, name="routing_away"),
    path(
        "routing/away/<int:absence_id>/end/",
        routing_views.out_of_office_end_view,
        name="routing_away_end",
    ),
    path("inbox/", inbox_views.inbox_body, name="inbox"),
    path("inbox/team/", inbox_views.team_clocks_body, name="inbox_team"),
    path("inbox/<int:lead_id>/accept/", inbox_views.inbox_accept, name="inbox_accept"),
    path("inbox/<int:lead_id>/reject/", inbox_views.inbox_reject, name="inbox_reject"),
    path("sla/compliance/", compliance_views.compliance_page, name="sla_compliance"),
    path("sla/compliance.csv", compliance_views.compliance_csv, name="sla_compliance_csv"),
    path("notifications/", notification_views.notification_index, name="notifications"),
    path(
        "notifications/<int:notification_id>/read/",
        notification_views.notification_read,
        name="notification_read",
    ),
    path(
        "notifications/read-all/",
        notification_views.notification_read_all,
        name="notification_read_all",
    ),
    path("notifications/bell/", notification_views.notification_bell, name="notification_bell"),
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
    path(
        "forms/<int:form_id>/submissions/",
        form_views.form_submissions,
        name="form_submissions",
    ),
    path(
        "forms/<int:form_id>/submissions/retry/",
        form_views.form_submissions_retry,
        name="form_submissions_retry",
    ),
    path(
        "forms/<int:form_id>/submissions/<int:submission_id>/retry/",
        form_views.form_submission_retry,
        name="form_submission_retry",
    ),
    path(
        "forms/<int:form_id>/submissions/<int:submission_id>/discard/",
        form_views.form_submission_discard,
        name="form_submission_discard",
    ),
    path("agreement/", agreement_views.agreement_page, name="agreement"),
    path("agreement/versions/", agreement_views.agreement_history, name="agreement_history"),
    path("agreement/draft/", agreement_views.agreement_draft_new, name="agreement_draft_new"),
    path(
        "agreement/versions/<int:number>/",
        agreement_views.agreement_version_page,
        name="agreement_version",
    ),
    path(
        "agreement/versions/<int:number>/edit/",
        agreement_views.agreement_draft_edit,
        name="agreement_draft_edit",
    ),
    path(
        "agreement/versions/<int:number>/approve/",
        agreement_views.agreement_approve_view,
        name="agreement_approve",
    ),
    path(
        "agreement/versions/<int:number>/withdraw/",
        agreement_views.agreement_withdraw_view,
        name="agreement_withdraw",
    ),
    path("webhooks/", webhook_views.webhook_index, name="webhook_list"),
    path("webhooks/new/", webhook_views.webhook_new, name="webhook_new"),
    path("webhooks/<int:endpoint_id>/", webhook_views.webhook_log, name="webhook_log"),
    path("webhooks/<int:endpoint_id>/edit/", webhook_views.webhook_edit, name="webhook_edit"),
    path("webhooks/<int:endpoint_id>/rotate/", webhook_views.webhook_rotate, name="webhook_rotate"),
    path("webhooks/<int:endpoint_id>/delete/", webhook_views.webhook_delete, name="webhook_delete"),
    path("webhooks/<int:endpoint_id>/test/", webhook_views.webhook_test, name="webhook_test"),
    path(
        "webhooks/<int:endpoint_id>/deliveries/<int:delivery_id>/",
        webhook_views.webhook_delivery,
        name="webhook_delivery",
    ),
    path(
        "webhooks/<int:endpoint_id>/deliveries/<int:delivery_id>/retry/",
        webhook_views.webhook_retry,
        name="webhook_retry",
    ),
]
