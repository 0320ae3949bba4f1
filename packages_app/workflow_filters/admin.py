"""Admin: the workflow file filters and their rules (editable)."""

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from packages_app.workflow_filters.models import WorkflowFileFilter, WorkflowFileFilterRule


class WorkflowFileFilterRuleInline(admin.TabularInline[WorkflowFileFilterRule, WorkflowFileFilter]):
    model = WorkflowFileFilterRule
    extra = 1
    fields = ["action", "pattern", "description"]


@admin.register(WorkflowFileFilter)
class WorkflowFileFilterAdmin(admin.ModelAdmin[WorkflowFileFilter]):
    list_display = ["workflow_name", "enabled", "rule_summary", "updated_at"]
    list_filter = ["enabled"]
    search_fields = ["workflow_name", "description", "rules__pattern"]
    inlines = [WorkflowFileFilterRuleInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[WorkflowFileFilter]:
        return super().get_queryset(request).prefetch_related("rules")

    @admin.display(description="rules")
    def rule_summary(self, obj: WorkflowFileFilter) -> str:
        rules = list(obj.rules.all())
        included = sum(1 for r in rules if r.action == WorkflowFileFilterRule.Action.INCLUDE)
        return f"{included} include, {len(rules) - included} exclude"
