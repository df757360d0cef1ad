"""Merchant-written HTML for the tracking page, cleaned with nh3 (on save and again on render).

Only a small set of formatting tags survives; scripts, styles, event handlers and any URL scheme
other than http(s)/mailto are removed, and links get `rel="noopener noreferrer nofollow"`.
"""

from __future__ import annotations

from collections.abc import Callable

import nh3

ALLOWED_TAGS = {
    "p", "br", "strong", "b", "em", "i", "u", "small", "span",
    "ul", "ol", "li", "a", "img", "h2", "h3", "h4", "blockquote",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "width", "height"}}
URL_SCHEMES = {"http", "https", "mailto"}
# Tags whose content goes too (not just the tag): their text is code, not prose.
DROP_WITH_CONTENT = {"script", "style", "template", "iframe", "object", "noscript"}


def sanitise_block_html(
    html: str, *, rewrite_href: Callable[[str], str | None] | None = None
) -> str:
    """The merchant's HTML with everything executable removed; `rewrite_href` may route links."""

    def attribute_filter(tag: str, attribute: str, value: str) -> str | None:
        if tag == "a" and attribute == "href" and rewrite_href is not None:
            return rewrite_href(value)
        return value

    return nh3.clean(
        html or "",
        tags=ALLOWED_TAGS,
        clean_content_tags=DROP_WITH_CONTENT,
        attributes=ALLOWED_ATTRIBUTES,
        attribute_filter=attribute_filter,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )
