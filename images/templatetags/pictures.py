"""``{% profile_picture user 64 %}``: a user's current picture (or their initial) for any page."""

from django import template
from django.utils.html import format_html

from images.models import Picture

register = template.Library()


@register.simple_tag
def profile_picture(user, size=64):
    """An ``<img>`` of ``user``'s current picture at ``size`` px, or a round initial when there is none."""
    picture = Picture.objects.filter(user=user, status=Picture.Status.READY).only("pk", "sha256", "sizes").first()
    if picture is None:
        initial = (user.get_username()[:1] or "?").upper()
        return format_html(
            '<span class="avatar" style="display:inline-flex;width:{0}px;height:{0}px;border-radius:50%;'
            'background:#ddd;align-items:center;justify-content:center">{1}</span>',
            size,
            initial,
        )
    return format_html(
        '<img class="avatar" src="{}" width="{}" height="{}" alt="" style="border-radius:50%;object-fit:cover">',
        picture.url(size),
        size,
        size,
    )
