"""The upload form: a file whose header passes ``images.decoding.inspect``."""

from django import forms
from django.conf import settings

from images import decoding, processing


def too_big_message():
    return f"This file is too large: the limit is {settings.IMAGES_MAX_UPLOAD_BYTES / 2**20:g} MB."


class PictureForm(forms.Form):
    picture = forms.FileField(
        label="New picture",
        help_text="A JPEG, PNG, WebP or GIF photo.",
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png,image/webp,image/gif"}),
    )

    def __init__(self, *args, too_big=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.too_big = too_big
        self.inspection = None

    def clean_picture(self):
        upload = self.cleaned_data["picture"]
        if upload.size > settings.IMAGES_MAX_UPLOAD_BYTES:
            raise forms.ValidationError(too_big_message(), code="size")
        try:
            self.inspection = decoding.inspect(upload, processing.limits())
        except decoding.ImageRefused as exc:
            raise forms.ValidationError(str(exc), code=exc.code) from None
        return upload

    def full_clean(self):
        super().full_clean()
        if self.too_big and self.is_bound:
            # The upload handler dropped the file while it arrived: say why, not "this field is required".
            self.errors.pop("picture", None)
            self.add_error("picture", forms.ValidationError(too_big_message(), code="size"))
