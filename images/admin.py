from django.contrib import admin

from images.models import Picture


@admin.register(Picture)
class PictureAdmin(admin.ModelAdmin):
    """Read-only: pictures change through uploads and the task, never by hand."""

    list_display = ("pk", "user", "status", "source_format", "width", "height", "created_at", "finished_at")
    list_filter = ("status", "source_format")
    search_fields = ("user__username", "sha256")
    readonly_fields = [f.name for f in Picture._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
