from django.contrib import admin, messages
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from irclogger.kinds import REDACTED
from irclogger.models import Channel, Line, Membership, Network
from irclogger.publish import announce_redactions


@admin.register(Network)
class NetworkAdmin(admin.ModelAdmin[Network]):
    list_display = ["name", "slug", "host", "port", "use_tls", "bot_enabled"]
    prepopulated_fields = {"slug": ["name"]}


class MembershipInline(admin.TabularInline[Membership, Channel]):
    model = Membership
    autocomplete_fields = ["user"]
    extra = 1


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin[Channel]):
    list_display = ["name", "network", "slug", "is_public", "bot_enabled", "timezone"]
    list_filter = ["network", "is_public", "bot_enabled"]
    search_fields = ["name", "slug"]
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin[Membership]):
    list_display = ["user", "channel"]
    list_filter = ["channel"]
    autocomplete_fields = ["user", "channel"]


@admin.register(Line)
class LineAdmin(admin.ModelAdmin[Line]):
    """Lines are the record: read-only, except that they can be redacted."""

    list_display = ["id", "timestamp", "channel", "kind", "nick", "text", "redacted_by"]
    list_filter = ["kind", "imported", "channel"]
    list_select_related = ["channel__network", "redacted_by"]
    search_fields = ["nick"]
    date_hierarchy = "timestamp"
    actions = ["redact"]
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Line | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Line | None = None) -> bool:
        return False

    def has_redact_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("irclogger.redact_line")

    @admin.action(description="Redact the text of the selected lines", permissions=["redact"])
    def redact(self, request: HttpRequest, queryset: QuerySet[Line]) -> None:
        with transaction.atomic():
            redacted = list(queryset.values_list("channel_id", "id"))
            count = queryset.update(
                text=REDACTED, redacted_by=request.user, redacted_at=timezone.now()
            )
            # Open pages replace the lines' text (streams.hub, "event: redact").
            announce_redactions(redacted)
        self.message_user(request, f"Redacted {count} line(s).", messages.SUCCESS)
