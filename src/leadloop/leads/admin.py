from django.contrib import admin

from leadloop.leads.models import Company, Lead


@admin.register(Company)
class CompanyAdmin(admin.ModelAdmin):
    list_display = ("name", "domain", "sector", "employee_count", "country")
    list_filter = ("sector", "country")
    search_fields = ("name", "domain")


@admin.register(Lead)
class LeadAdmin(admin.ModelAdmin):
    list_display = ("__str__", "email", "company", "stage", "owner", "source", "created_at")
    list_filter = ("stage", "source", "country")
    search_fields = ("email", "first_name", "last_name", "external_id", "company__name")
    raw_id_fields = ("company",)
    # The stage moves only through lifecycle.services.lead_transition (one audit row each), the
    # owner and queue only through routing (one Assignment each): reassign on the lead page.
    readonly_fields = (
        "owner",
        "queue",
        "requalify_after",
        "stage",
        "stage_changed_at",
        "cycle",
        "lead_first_at",
        "mql_first_at",
        "mql_last_at",
        "sal_first_at",
        "sal_last_at",
        "sql_first_at",
        "sql_last_at",
        "opportunity_first_at",
        "opportunity_last_at",
        "customer_first_at",
        "nurture_last_at",
        "disqualified_last_at",
    )
