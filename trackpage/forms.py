"""Forms of the tracking page: lookups and the rating."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class OrderLookupForm(forms.Form):
    order_number = forms.CharField(
        label=_("Order number"),
        max_length=64,
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "text"}),
        error_messages={"required": _("Enter your order number.")},
    )
    contact = forms.CharField(
        label=_("Email or postcode"),
        max_length=254,
        help_text=_("The email address you ordered with, or the delivery postcode."),
        widget=forms.TextInput(attrs={"autocomplete": "email"}),
        error_messages={"required": _("Enter your email address or postcode.")},
    )


class TrackingNumberForm(forms.Form):
    tracking_number = forms.CharField(
        label=_("Tracking number"),
        max_length=64,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        error_messages={"required": _("Enter the tracking number.")},
    )


class RatingForm(forms.Form):
    shipment = forms.CharField(widget=forms.HiddenInput, max_length=24)
    score = forms.TypedChoiceField(
        label=_("Your rating"),
        choices=[(n, str(n)) for n in range(1, 6)],
        coerce=int,
        error_messages={"required": _("Tap a star to rate the delivery.")},
    )
    comment = forms.CharField(
        label=_("Anything to add? (optional)"),
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
