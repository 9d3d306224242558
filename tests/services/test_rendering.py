"""Sandboxed rendering, caps, locale variants and the tracking rewrite."""

import threading

import pytest

from mailapp.models import TemplateVersion
from mailapp.services.rendering import (
    RenderError,
    add_open_pixel,
    compile_content,
    extract_links,
    render_content,
    rewrite_links,
    template_context,
)


def version(html="<p>Hi</p>", subject="Hello", text=None, **fields) -> TemplateVersion:
    return TemplateVersion(
        id=fields.pop("id", None),
        subject=subject,
        preheader=fields.pop("preheader", None),
        html=html,
        text=text,
        locale=fields.pop("locale", "en"),
        locale_variants=fields.pop("locale_variants", {}),
    )


def context(**contact) -> dict:
    contact.setdefault("email", "ann@example.org")
    contact.setdefault("attributes", {})
    return template_context(
        contact,
        unsubscribe_url="https://mail.test/u/tok",
        view_url="https://mail.test/v/tok",
        campaign={"id": 7, "name": "Spring"},
        project={"name": "Shop", "postal_address": "1 Road, Town"},
    )


def render(html, subject="Hello", **contact):
    return render_content(compile_content(version(html, subject)), context(**contact))


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ contact.__class__ }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ '{0.__class__}'.format(contact) }}",
        "{{ contact.attributes.__class__ }}",
        "{{ contact.email.__len__() }}",
    ],
)
def test_sandbox_escapes_are_refused(source):
    with pytest.raises(RenderError, match="sandbox"):
        render(source)


def test_contact_values_are_escaped_in_html_but_not_in_text_or_subject():
    rendered = render(
        "<p>{{ contact.first_name }} {{ contact.attributes.city }}</p>",
        subject="For {{ contact.first_name }}",
        first_name='<script>alert("x")</script>',
        attributes={"city": "<img src=x onerror=alert(1)>"},
    )
    assert "<script>" not in rendered.html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in rendered.html
    assert "&lt;img src=x onerror=alert(1)&gt;" in rendered.html
    assert rendered.subject == 'For <script>alert("x")</script>'
    assert '<script>alert("x")</script>' in rendered.text


def test_defaults_and_missing_attributes_render_empty():
    rendered = render(
        '<p>Hi {{ contact.first_name | default("there") }}{{ contact.attributes.a.b.c }}</p>'
    )
    assert "Hi there</p>" in rendered.html


def test_subject_cannot_inject_headers():
    rendered = render("<p>x</p>", subject="Hi {{ contact.first_name }}", first_name="A\r\nBcc: x")
    assert rendered.subject == "Hi A Bcc: x"


def test_output_size_cap():
    loop = "{% for x in contact.attributes.rows %}" + "y" * 1000 + "{% endfor %}"
    with pytest.raises(RenderError, match="larger than"):
        render_content(
            compile_content(version(loop)),
            context(attributes={"rows": list(range(100))}),
            max_chars=50_000,
        )


def test_render_time_cap():
    slow = (
        "{% for a in contact.attributes.n %}{% for b in contact.attributes.n %}"
        "{% for c in contact.attributes.n %}{{ a.real }}{% endfor %}{% endfor %}{% endfor %}"
    )
    with pytest.raises(RenderError, match="too long"):
        render_content(
            compile_content(version(slow)),
            context(attributes={"n": list(range(200))}),
            max_seconds=0.05,
        )


def test_string_multiplication_is_capped():
    with pytest.raises(RenderError, match="too long"):
        render("{{ 'x' * 100000000 }}")


def test_compiled_once_per_version_and_locale():
    v = version("<p>Hi</p>", id=41)
    assert compile_content(v) is compile_content(v)
    assert compile_content(v, "de") is compile_content(v, "de-AT")


def test_locale_variant_with_fallback():
    v = version(
        "<p>Hello</p>",
        subject="Hello",
        text="Hello in text",
        locale_variants={
            "de": {"subject": "Hallo {{ contact.first_name }}", "html": "<p>Hallo</p>"}
        },
    )
    german = render_content(compile_content(v, "de-AT"), context(first_name="Jörg"))
    assert german.subject == "Hallo Jörg"
    assert "<p>Hallo</p>" in german.html
    assert german.text == "Hallo\n"  # from the German HTML, not the base text
    french = render_content(compile_content(v, "fr"), context())
    assert french.subject == "Hello"


def test_text_part_generated_from_html():
    rendered = render(
        '<h1>News</h1><p>Read <a href="https://shop.example/a">our post</a></p>'
        '<ul><li>one</li><li>two</li></ul><p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>'
    )
    assert rendered.text == (
        "News\n\nRead our post (https://shop.example/a)\n\n- one\n- two\n\n"
        "Unsubscribe (https://mail.test/u/tok)\n"
    )


def test_preheader_is_hidden_in_html_and_absent_from_text():
    v = version("<p>Body</p>", preheader="Sale ends {{ contact.first_name }}")
    rendered = render_content(compile_content(v), context(first_name="Ann"))
    assert rendered.preheader == "Sale ends Ann"
    assert "display:none" in rendered.html.split("Sale ends Ann")[0]
    assert "Sale ends" not in rendered.text


def test_shared_across_threads():
    compiled = compile_content(version("<p>{{ contact.first_name }}</p>"))
    results: dict[int, str] = {}

    def work(i: int) -> None:
        for _ in range(50):
            results[i] = render_content(compiled, context(first_name=f"n{i}")).html

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(f"<p>n{i}</p>" in results[i] for i in range(8))


HTML = (
    '<p><a href="https://shop.example/a?x=1&amp;y=2">A</a>'
    "<a href='http://shop.example/b#top'>B</a>"
    '<a href="mailto:help@shop.example">mail</a>'
    '<a class="btn" href="https://shop.example/a?x=1&amp;y=2">A again</a>'
    '<a href="https://mail.test/u/tok">unsubscribe</a></p></body>'
)


def test_extract_links_in_document_order_unescaped():
    assert extract_links(HTML) == [
        "https://shop.example/a?x=1&y=2",
        "http://shop.example/b#top",
        "https://shop.example/a?x=1&y=2",
        "https://mail.test/u/tok",
    ]


def test_rewrite_links_numbers_like_extract_and_can_leave_links():
    seen = []

    def click(position, url):
        seen.append((position, url))
        return None if "/u/" in url else f"https://mail.test/t/c/{position}?r=1&s=2"

    out = rewrite_links(HTML, click)
    assert seen == list(enumerate(extract_links(HTML)))
    assert '<a href="https://mail.test/t/c/0?r=1&amp;s=2">A</a>' in out
    assert "<a href='https://mail.test/t/c/1?r=1&amp;s=2'>B</a>" in out
    assert '<a class="btn" href="https://mail.test/t/c/2?r=1&amp;s=2">' in out
    assert 'href="https://mail.test/u/tok"' in out
    assert 'href="mailto:help@shop.example"' in out


def test_open_pixel_before_body_end():
    out = add_open_pixel("<html><body><p>x</p></body></html>", "https://mail.test/t/o/a&b")
    assert out.endswith('<img src="https://mail.test/t/o/a&amp;b" width="1" height="1" alt="" '
                        'style="display:block;width:1px;height:1px;border:0;margin:0;padding:0">'
                        "</body></html>")  # fmt: skip
