"""Small readers of rendered pages, so tests assert the numbers people see."""

from __future__ import annotations

import re
from html import unescape

from django.http import HttpResponse


def text(response: HttpResponse) -> str:
    return response.content.decode()


def figure(response: HttpResponse, name: str) -> str:
    """The text of the element marked ``data-figure="name"``."""
    match = re.search(rf'data-figure="{re.escape(name)}">([^<]*)<', text(response))
    assert match, f"no figure {name!r} on the page"
    return match.group(1).strip()


def _strip(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def row(response: HttpResponse, table: str, attr: str, value: str) -> list[str]:
    """The cells (th and td, as text) of the row ``data-<attr>="value"`` in ``data-table="table"``."""
    page = text(response)
    start = page.find(f'data-table="{table}"')
    assert start >= 0, f"no table {table!r} on the page"
    body = page[start : page.find("</table>", start)]
    match = re.search(rf'<tr data-{attr}="{re.escape(value)}">(.*?)</tr>', body, re.S)
    assert match, f"no row {attr}={value!r} in table {table!r}"
    return [_strip(c) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", match.group(1), re.S)]


def table_rows(response: HttpResponse, table: str) -> list[list[str]]:
    """Every body row of ``data-table="table"`` as lists of cell texts."""
    page = text(response)
    start = page.find(f'data-table="{table}"')
    assert start >= 0, f"no table {table!r} on the page"
    body = page[page.find("<tbody>", start) : page.find("</tbody>", start)]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
    return [[_strip(c) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", r, re.S)] for r in rows]
