"""Sandboxed rendering, caps, locale variants and the tracking rewrite."""

import threading

import pytest

from mailapp.content.links import (
    add_open_pixel,
    extract_links,
    extract_text_links,
    rewrite_links,
    rewrite_text_links,
)
from mailapp.content.rendering import (
    RenderError,
    compile_content,
    render_content,
    render_snippet,
    template_context,
)
from mailapp.models import TemplateVersion


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
    with pytest.raises(RenderError, match="longer than 1,000,000 characters"):
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


TEXT = """Hello,
Sale: https://shop.example.com/sale?a=1&b=2.
(Terms: https://shop.example.com/terms_(2026)) and <https://shop.example.com/x>,
see "https://shop.example.com/q" or https://en.wikipedia.org/wiki/Foo_(bar)!
Not links: http:// and https://. ftp://files.example.com/ mailto:a@b.example
"""


def test_extract_text_links_drops_the_punctuation_around_them():
    assert extract_text_links(TEXT) == [
        "https://shop.example.com/sale?a=1&b=2",
        "https://shop.example.com/terms_(2026)",
        "https://shop.example.com/x",
        "https://shop.example.com/q",
        "https://en.wikipedia.org/wiki/Foo_(bar)",
    ]


def test_rewrite_text_links_keeps_the_text_around_and_can_leave_links():
    seen = []

    def click(position, url):
        seen.append((position, url))
        return None if "wikipedia" in url else f"https://mail.test/t/c/{position}"

    out = rewrite_text_links(TEXT, click)
    assert [p for p, _ in seen] == [0, 1, 2, 3, 4]
    assert "Sale: https://mail.test/t/c/0.\n" in out
    assert "(Terms: https://mail.test/t/c/1) and <https://mail.test/t/c/2>," in out
    assert 'see "https://mail.test/t/c/3" or https://en.wikipedia.org/wiki/Foo_(bar)!' in out
    assert out.endswith(
        "Not links: http:// and https://. ftp://files.example.com/ mailto:a@b.example\n"
    )


def test_text_links_with_a_scheme_in_capitals_are_found_and_rewritten_too():
    text = "Order: HTTPS://Shop.example.com/o?id=1. Help: Http://help.example.com/faq\n"
    assert extract_text_links(text) == [
        "HTTPS://Shop.example.com/o?id=1",
        "Http://help.example.com/faq",
    ]
    out = rewrite_text_links(text, lambda position, _url: f"https://mail.test/t/c/{position}")
    assert out == "Order: https://mail.test/t/c/0. Help: https://mail.test/t/c/1\n"
    mixed = "https://a.example/1 and HTTP://b.example/2"
    assert extract_text_links(mixed) == ["https://a.example/1", "HTTP://b.example/2"]


def test_compiled_links_add_the_text_parts_own_links_after_the_htmls():
    compiled = compile_content(
        version(
            '<a href="https://a.example/1">1</a> <a href="{{ unsubscribe_url }}">u</a>'
            '<a href="https://a.example/2?x={{ contact.email }}">2</a>',
            text="https://a.example/1 and https://b.example/only-in-text. {{ unsubscribe_url }}"
            " https://a.example/{{ contact.first_name }}",
        )
    )
    assert compiled.links == ("https://a.example/1", "https://b.example/only-in-text")
    generated = compile_content(version('<p><a href="https://a.example/g?a=1&amp;b=2">g</a></p>'))
    assert generated.links == ("https://a.example/g?a=1&b=2",)


def test_a_subject_override_is_jinja_like_the_versions_subject():
    base = version("<p>x</p>", subject="Base {{ contact.first_name }}")
    compiled = compile_content(base, None, "Hi {{ contact.first_name | default('you') }}!")
    assert render_content(compiled, context(first_name="Ann")).subject == "Hi Ann!"
    assert render_content(compiled, context()).subject == "Hi you!"
    assert render_content(compile_content(base), context(first_name="Bo")).subject == "Base Bo"
    evil = compile_content(base, None, "{{ contact.__class__ }}")
    with pytest.raises(RenderError, match="sandbox"):
        render_content(evil, context())


def test_render_snippet_is_sandboxed_and_capped():
    assert render_snippet("{{ campaign.slug }}-x", {"campaign": {"slug": "s"}}, max_chars=10) == (
        "s-x"
    )
    with pytest.raises(RenderError, match="larger than 5"):
        render_snippet("{{ 'abcdef' }}", {}, max_chars=5)
    with pytest.raises(RenderError, match="sandbox"):
        render_snippet("{{ campaign.__class__ }}", {"campaign": {}}, max_chars=50)
    with pytest.raises(RenderError, match="does not compile"):
        render_snippet("{{ x ", {}, max_chars=50)
