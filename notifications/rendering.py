"""Rendering messages from plain data in a sandboxed template engine.

Templates (ours on disk, merchants' in the database) run in their own `Engine`: no context
processors, only the tags and filters of `notifications.template_sandbox`, unknown variables
render as "". The context is converted to plain dicts, lists and strings first (`plain_data`), so
a template has nothing to reach into: there is no model, manager or request in it.
"""

from __future__ import annotations

import dataclasses
import enum
import re
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

import css_inline
from babel.dates import format_skeleton
from django.template import Context, Engine, Template, TemplateSyntaxError
from django.template.loader_tags import BlockNode
from django.utils.safestring import SafeString, mark_safe

from notifications.errors import NotificationErrorCode
from notifications.models import Channel
from postpurchase.errors import DomainError

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
LANGUAGES_WITH_DEFAULTS = ("en", "ja")
PARTS_BY_CHANNEL = {
    Channel.EMAIL: ("subject", "text", "html"),
    Channel.SMS: (None, "sms", None),
    Channel.PUSH: ("push_title", "push_body", None),
}


class SandboxEngine(Engine):
    """A Django template engine whose only builtins are the sandbox library."""

    default_builtins = ["notifications.template_sandbox"]


@lru_cache(maxsize=1)
def file_engine() -> SandboxEngine:
    return SandboxEngine(dirs=[str(TEMPLATE_DIR)], string_if_invalid="", autoescape=True)


@lru_cache(maxsize=1)
def string_engine() -> SandboxEngine:
    return SandboxEngine(dirs=[], loaders=[], string_if_invalid="", autoescape=True)


@lru_cache(maxsize=512)
def compile_source(source: str) -> Template:
    return string_engine().from_string(source)


def template_validate(source: str, *, field: str = "body_text") -> None:
    """Compile a merchant-written template; a forbidden tag or a syntax error is a DomainError."""
    try:
        compile_source(source)
    except TemplateSyntaxError as exc:
        raise DomainError(
            NotificationErrorCode.TEMPLATE_INVALID,
            f"This template cannot be used: {exc}. Only formatting tags and filters are allowed.",
            field=field,
        ) from exc


# --- Plain data -------------------------------------------------------------------------------


class ContextNotPlain(DomainError):
    def __init__(self, path: str, value: object) -> None:
        super().__init__(
            NotificationErrorCode.CONTEXT_NOT_PLAIN,
            f"Message context at {path!r} is a {type(value).__name__}: pass plain data "
            "(a frozen dataclass of strings, numbers, dates and tuples), never a model.",
        )


@lru_cache(maxsize=4096)
def format_date(value: date, language: str) -> str:
    return str(format_skeleton("MMMEd", value, locale=language))


def format_datetime(value: datetime, language: str, zone: str) -> str:
    local = value.astimezone(zoneinfo.ZoneInfo(zone))
    return f"{format_date(local.date(), language)} {format_skeleton('Hm', local, locale=language)}"


def plain_data(value: Any, *, language: str, zone: str, path: str = "context") -> Any:
    """Turn a context into dicts, lists, str, int, float, bool and None; refuse anything else."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, str):
        return "".join([value])  # a plain str: a SafeString passed in is escaped like any other
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return format_datetime(value, language, zone)
    if isinstance(value, date):
        return format_date(value, language)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: plain_data(
                getattr(value, f.name), language=language, zone=zone, path=f"{path}.{f.name}"
            )
            for f in dataclasses.fields(value)
        }
    if isinstance(value, Mapping):
        return {
            str(k): plain_data(v, language=language, zone=zone, path=f"{path}.{k}")
            for k, v in value.items()
        }
    if isinstance(value, list | tuple | frozenset):
        return [
            plain_data(v, language=language, zone=zone, path=f"{path}[{i}]")
            for i, v in enumerate(value)
        ]
    raise ContextNotPlain(path, value)


class SealedDict(dict[str, Any]):
    """A dict whose methods a template cannot reach: `{{ d.items }}` or `{{ d.clear }}` is "".

    Django templates try `d[key]` first and then `getattr(d, key)`, calling what they find;
    here only item lookup answers.
    """

    def __getattribute__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            return super().__getattribute__(name)
        raise AttributeError(name)

    def __dir__(self) -> list[str]:
        return []


def seal(value: Any) -> Any:
    """Plain data as templates see it: sealed dicts and tuples (no `pop`, no `clear`)."""
    if isinstance(value, dict):
        return SealedDict({k: seal(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(seal(v) for v in value)
    return value


# --- Rendering --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RenderedMessage:
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class TemplateSource:
    """A merchant's override of one trigger, channel and language (plain strings)."""

    subject: str
    body_text: str
    body_html: str


@lru_cache(maxsize=256)
def _default_blocks(trigger: str, language: str) -> tuple[Template, dict[str, BlockNode]]:
    template = file_engine().get_template(f"notifications/messages/{language}/{trigger}.txt")
    nodes = template.nodelist.get_nodes_by_type(BlockNode)
    return template, {node.name: node for node in nodes if isinstance(node, BlockNode)}


def default_template_exists(trigger: str, language: str) -> bool:
    return (TEMPLATE_DIR / "notifications" / "messages" / language / f"{trigger}.txt").exists()


def _render_block(
    source: tuple[Template, Mapping[str, BlockNode]],
    name: str | None,
    data: dict[str, Any],
    *,
    html: bool,
) -> str:
    template, blocks = source
    if name is None or name not in blocks:
        return ""
    context = Context(data, autoescape=html)
    with context.bind_template(template):  # unknown variables resolve through the engine
        return str(blocks[name].render(context))


def _render_source(source: str, data: dict[str, Any], *, html: bool) -> str:
    if not source:
        return ""
    return str(compile_source(source).render(Context(data, autoescape=html)))


_BLANK_LINES = re.compile(r"\n\s*\n\s*\n+")


def _tidy_text(text: str) -> str:
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines))


def one_line(text: str) -> str:
    """Subjects and titles are one line: no header folding surprises, no header injection."""
    return " ".join(text.split())


def render_message(
    *,
    trigger: str,
    channel: str,
    language: str,
    data: dict[str, Any],
    override: TemplateSource | None = None,
) -> RenderedMessage:
    """Render one message from plain `data`, with the merchant's override when there is one."""
    subject_part, text_part, html_part = PARTS_BY_CHANNEL[Channel(channel)]
    data = {key: seal(value) for key, value in data.items()}
    if override is not None:
        subject = _render_source(override.subject, data, html=False)
        text = _render_source(override.body_text, data, html=False)
        fragment = _render_source(override.body_html, data, html=True) if html_part else ""
    else:
        blocks = _default_blocks(trigger, language)
        subject = _render_block(blocks, subject_part, data, html=False)
        text = _render_block(blocks, text_part, data, html=False)
        fragment = _render_block(blocks, html_part, data, html=True)
    html = ""
    if channel == Channel.EMAIL:
        if not fragment:
            fragment = "".join(f"<p>{line}</p>" for line in _escape_lines(text))
        safe_fragment = mark_safe(fragment)  # noqa: S308 - rendered escaped
        if override is None:  # the platform's own templates: the layout is rendered once
            html = email_layout_cached(fragment=safe_fragment, data=data)
        else:
            html = email_layout(fragment=safe_fragment, data=data)
    return RenderedMessage(subject=one_line(subject), text=_tidy_text(text), html=html)


def _escape_lines(text: str) -> list[str]:
    from django.utils.html import escape

    return [escape(line) for line in _tidy_text(text).split("\n") if line.strip()]


@lru_cache(maxsize=1)
def _inliner() -> css_inline.CSSInliner:
    return css_inline.CSSInliner(load_remote_stylesheets=False, keep_style_tags=False)


def email_layout(*, fragment: SafeString, data: dict[str, Any]) -> str:
    """Wrap an HTML fragment in the merchant-branded layout and inline its CSS."""
    layout = file_engine().get_template("notifications/email/layout.html")
    html = layout.render(Context({**data, "body_html": fragment}, autoescape=True))
    return str(_inliner().inline(html))


# --- The layout, rendered and inlined once per merchant and language --------------------------
#
# Per message the layout differs only in the fragment and the two links. The layout is rendered
# and inlined once with stand-ins for them; per message the fragment is inlined alone with the
# layout's stylesheet (`inline_fragment`) and the stand-ins are replaced. The layout's CSS has no
# rule whose selector depends on the fragment's surroundings, so the result is the same
# document as `email_layout` gives (the tests compare them byte for byte for every default
# template in both languages). Merchant-written fragments, which may be malformed HTML that a
# parser would repair differently alone, keep the whole-document path.

_SLOT_BODY = "nslotbody0c4e7a"
_SLOT_TRACKING = "https://slot.invalid/tracking-0c4e7a"
_SLOT_UNSUBSCRIBE = "https://slot.invalid/unsubscribe-0c4e7a"
_STYLE = re.compile(r"<style>(.*?)</style>", re.DOTALL)


def _frozen(value: Any) -> Any:
    if isinstance(value, dict):  # SealedDict hides .items from templates, not from dict's own
        return tuple(sorted((k, _frozen(v)) for k, v in dict.items(value)))
    return value


@lru_cache(maxsize=256)
def _layout_parts(key: tuple[Any, ...]) -> tuple[str, str]:
    """(the inlined layout with stand-ins, the layout's stylesheet) for one layout input."""
    language, merchant, subject, with_tracking, with_unsubscribe = key
    data = {
        "language": language,
        "merchant": SealedDict(dict(merchant)),
        **({"subject": subject[0]} if subject else {}),
        "tracking_url": _SLOT_TRACKING if with_tracking else "",
        "unsubscribe_url": _SLOT_UNSUBSCRIBE if with_unsubscribe else "",
        "body_html": _SLOT_BODY,
    }
    layout = file_engine().get_template("notifications/email/layout.html")
    rendered = layout.render(Context(data, autoescape=True))
    css = "\n".join(_STYLE.findall(rendered))
    return str(_inliner().inline(rendered)), css


@lru_cache(maxsize=64)
def _fragment_inliner(css: str) -> css_inline.CSSInliner:
    """An inliner holding the layout's stylesheet as its extra CSS: the same result as passing
    the stylesheet with every fragment, which costs more per call (measured ~0.03 ms)."""
    return css_inline.CSSInliner(
        load_remote_stylesheets=False, keep_style_tags=False, extra_css=css
    )


def _attribute_text(value: str) -> str:
    """An attribute value as the inliner's HTML serializer writes it."""
    return value.replace("&", "&amp;").replace("\u00a0", "&nbsp;").replace('"', "&quot;")


def email_layout_cached(*, fragment: SafeString, data: dict[str, Any]) -> str:
    """`email_layout` for the platform's templates, with the layout rendered once per input."""
    tracking = str(data.get("tracking_url") or "")
    unsubscribe = str(data.get("unsubscribe_url") or "")
    key = (
        data.get("language"),
        _frozen(data.get("merchant") or {}),
        (data["subject"],) if "subject" in data else (),
        bool(tracking),
        bool(unsubscribe),
    )
    document, css = _layout_parts(key)
    body = str(_fragment_inliner(css).inline_fragment(str(fragment), ""))
    links = (
        (_SLOT_TRACKING, _attribute_text(tracking)),
        (_SLOT_UNSUBSCRIBE, _attribute_text(unsubscribe)),
    )
    head, _, tail = document.partition(_SLOT_BODY)
    for slot, value in links:  # in the layout only: the fragment's text is the shopper's
        head, tail = head.replace(slot, value), tail.replace(slot, value)
    return head + body + tail
