"""The only tags and filters message templates get: formatting, no loading, no debugging.

Left out on purpose: `load` (no other libraries), `include`/`extends`/`ssi` (no files),
`debug` (dumps the context and loaded modules), `safe`/`safeseq` (shopper data stays escaped),
`url`/`csrf_token`/`static` (nothing that reaches settings, the URLconf or the database).
"""

from __future__ import annotations

from django.template import Library, defaultfilters, defaulttags, loader_tags

register = Library()

_TAGS = (
    "autoescape",
    "comment",
    "cycle",
    "filter",
    "firstof",
    "for",
    "if",
    "ifchanged",
    "now",
    "resetcycle",
    "spaceless",
    "templatetag",
    "verbatim",
    "with",
)
_FILTERS = (
    "add",
    "capfirst",
    "center",
    "cut",
    "default",
    "default_if_none",
    "divisibleby",
    "escape",
    "first",
    "floatformat",
    "join",
    "last",
    "length",
    "linebreaks",
    "linebreaksbr",
    "ljust",
    "lower",
    "pluralize",
    "rjust",
    "slice",
    "striptags",
    "title",
    "truncatechars",
    "truncatewords",
    "upper",
    "urlencode",
    "wordcount",
    "wordwrap",
    "yesno",
)

for _name in _TAGS:
    register.tags[_name] = defaulttags.register.tags[_name]
register.tags["block"] = loader_tags.register.tags["block"]
for _name in _FILTERS:
    register.filters[_name] = defaultfilters.register.filters[_name]
