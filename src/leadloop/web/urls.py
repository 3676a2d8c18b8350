"""The web UI's URLs."""

from django.urls import path

from leadloop.web.views import auth, dashboard, leads, tokens

app_name = "web"
urlpatterns = [
    path("", dashboard.dashboard, name="dashboard"),
    path("login/", auth.LoginView.as_view(), name="login"),
    path("logout/", auth.LogoutView.as_view(), name="logout"),
    path("leads/", leads.lead_index, name="lead_list"),
    path("leads/search/", leads.lead_search, name="lead_search"),
    path("leads/<int:lead_id>/", leads.lead_detail, name="lead_detail"),
    path("settings/tokens/", tokens.token_index, name="tokens"),
    path("settings/tokens/<int:token_id>/revoke/", tokens.token_revoke_view, name="token_revoke"),
]
