"""Sanitizing author HTML: email markup kept, active content removed, Jinja untouched."""

import pytest

from mailapp.content.htmlprep import PrepareError, html_to_text, sanitize_html


def test_keeps_tables_attributes_and_inline_styles():
    source = (
        '<table width="600" cellpadding="0" cellspacing="0" border="0" bgcolor="#ffffff" '
        'align="center" role="presentation"><tr><td valign="top" colspan="2" '
        'style="padding: 10px; background-color: #eee; mso-line-height-rule: exactly">'
        '<img src="https://cdn.example/a.png" alt="Logo" width="120" height="40">'
        '<a href="https://shop.example/" target="_blank">Shop</a></td></tr></table>'
    )
    out = sanitize_html(source)
    for kept in (
        'width="600"', 'cellpadding="0"', 'bgcolor="#ffffff"', 'role="presentation"',
        'valign="top"', 'colspan="2"', "padding: 10px;", "background-color: #eee;",
        "mso-line-height-rule: exactly;", 'src="https://cdn.example/a.png"', 'alt="Logo"',
        'href="https://shop.example/"',
    ):  # fmt: skip
        assert kept in out, kept
    assert "<tbody>" not in out


def test_strips_scripts_handlers_and_dangerous_urls():
    out = sanitize_html(
        '<p onclick="steal()" onmouseover="x()">Hi<script>alert(1)</script></p>'
        '<a href="javascript:alert(1)">x</a><img src="data:image/png;base64,AAAA" onerror="y()">'
        '<iframe src="https://evil.example"></iframe><form action="/x"><input></form>'
        '<div style="position: fixed; color: red; behavior: url(x.htc)">d</div>'
        "<!--[if mso]><script>bad()</script><![endif]-->"
    )
    for removed in (
        "script", "alert", "bad()", "onclick", "onerror", "onmouseover", "javascript:",
        "data:", "iframe", "<form", "<input", "position", "behavior",
    ):  # fmt: skip
        assert removed not in out, removed
    assert "color: red;" in out


def test_style_blocks_are_inlined_without_fetching():
    out = sanitize_html(
        '<link rel="stylesheet" href="http://127.0.0.1:9/x.css">'
        "<style>.title { color: #123456; font-size: 20px }</style>"
        '<h1 class="title">Hello</h1>'
    )
    assert '<h1 class="title" style="color: #123456;font-size: 20px;">Hello</h1>' in out
    assert "<style" not in out
    assert "<link" not in out


def test_jinja_survives_sanitizing_in_tables_attributes_and_text():
    source = (
        '<table>{% for item in data.items %}<tr><td style="color: {{ item.color }}">'
        '<a href="{{ item.url }}">{{ item.name | upper }}</a> {{ 1 < 2 }}</td></tr>'
        "{% endfor %}</table>{# note #}"
    )
    out = sanitize_html(source)
    assert out == (
        '<table>{% for item in data.items %}<tr><td style="color: {{ item.color }};">'
        '<a href="{{ item.url }}">{{ item.name | upper }}</a> {{ 1 < 2 }}</td></tr>'
        "{% endfor %}</table>{# note #}"
    )


def test_jinja_where_sanitizing_removes_it_is_refused():
    with pytest.raises(PrepareError, match="between attributes"):
        sanitize_html('<td {% if contact.first_name %}class="a"{% endif %}>x</td>')
    with pytest.raises(PrepareError, match=r"\{\{ contact.email \}\}"):
        sanitize_html('<p onclick="{{ contact.email }}">x</p>')


def test_html_to_text():
    text = html_to_text(
        "<div style='display:none'>preheader</div><h2>Title</h2><p>One<br>two &amp; three</p>"
        '<table><tr><td>a</td><td>b</td></tr></table><hr><img src="x" alt="Logo">'
        '<p><a href="https://x.example/">https://x.example/</a></p>'
    )
    assert text == "Title\n\nOne\ntwo & three\n\na b\n\n----------\n\nLogo\n\nhttps://x.example/\n"
