"""The visual editor's gallery: six starters built from blocks, compiled with the brand.

Each is a valid document (content.blocks) ending with the footer marketing mail needs, with
columns that stack on a phone, so it reads at 320 px without sideways scrolling. Keys start
with `visual_` so they never clash with the HTML gallery's (content.starters). Images are
placeholders an author replaces from the asset library.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import count
from typing import Any

HELLO = 'Hello {{ contact.first_name | default("there") }},'
LINK = "https://example.com"


def _image(text: str, size: str = "600x300") -> str:
    return f"https://placehold.co/{size}/e5e5e5/555555/png?text={text.replace(' ', '+')}"


@dataclass(frozen=True)
class VisualStarter:
    """A document to start a visual template from, as the gallery shows it."""

    key: str
    name: str
    description: str
    subject: str
    preheader: str
    document: dict[str, Any]


def _doc(*sections: list[list[dict[str, Any]]]) -> dict[str, Any]:
    """A document from sections (lists of columns, each a list of blocks), ids numbered."""
    ids = count(1)
    return {
        "version": 1,
        "sections": [
            {
                "id": f"s{s}",
                "background": None,
                "columns": [
                    {"id": f"s{s}c{c}", "blocks": [{"id": f"b{next(ids)}", **b} for b in column]}
                    for c, column in enumerate(columns, 1)
                ],
            }
            for s, columns in enumerate(sections, 1)
        ],
    }


def heading(text: str, level: int = 1, align: str = "left") -> dict[str, Any]:
    return {"type": "heading", "text": text, "level": level, "align": align}


def text(html: str, align: str = "left") -> dict[str, Any]:
    return {"type": "text", "html": html, "align": align}


def image(alt: str, label: str, size: str = "600x300") -> dict[str, Any]:
    return {"type": "image", "src": _image(label, size), "asset_id": None, "alt": alt}


def button(label: str, align: str = "left") -> dict[str, Any]:
    return {"type": "button", "label": label, "href": LINK, "align": align}


FOOTER = [
    {"type": "social", "align": "center", "links": [
        {"network": "website", "href": LINK}, {"network": "instagram", "href": LINK},
        {"network": "linkedin", "href": LINK},
    ]},
    {"type": "footer", "text": ""},
]  # fmt: skip
DIVIDER = {"type": "divider"}
SPACER = {"type": "spacer", "height": 16}


def _story(n: int) -> list[dict[str, Any]]:
    return [
        image(f"Picture for story {n}", f"Story {n}", "300x200"),
        heading(f"Story {n}", 3),
        text("<p>Two or three sentences that make the reader want more.</p>"),
        text(f'<p><a href="{LINK}">Read the story</a></p>'),
    ]


VISUAL_STARTERS: dict[str, VisualStarter] = {
    s.key: s
    for s in (
        VisualStarter(
            "visual_newsletter",
            "Newsletter",
            "An introduction, a main story with a picture and two stories side by side.",
            "This month at {{ project.name }}",
            "The stories we picked for you this month",
            _doc(
                [
                    [
                        heading("This month at {{ project.name }}"),
                        text(f"<p>{HELLO} here is what happened.</p>"),
                    ]
                ],
                [
                    [
                        image("Picture for the main story", "Main story"),
                        heading("The main story", 2),
                        text("<p>Say what happened and why it matters to the reader.</p>"),
                        button("Read the story"),
                    ]
                ],
                [_story(2), _story(3)],
                [[DIVIDER, *FOOTER]],
            ),
        ),
        VisualStarter(
            "visual_announcement",
            "Announcement",
            "One message, one picture, one button: a launch, a change, big news.",
            "Big news from {{ project.name }}",
            "Something new is here",
            _doc(
                [
                    [
                        image("The news in a picture", "Big news"),
                        heading(
                            '{{ contact.first_name | default("Hello") }}, we have news', 1, "center"
                        ),
                        text(
                            "<p>Say in one or two sentences what is new and why it matters.</p>",
                            "center",
                        ),
                        button("Find out more", "center"),
                        SPACER,
                    ]
                ],
                [[*FOOTER]],
            ),
        ),
        VisualStarter(
            "visual_promo",
            "Product promotion",
            "A product with its picture and price, two more beside each other, a button.",
            'An offer for you, {{ contact.first_name | default("friend") }}',
            "Our pick for you, this week only",
            _doc(
                [
                    [
                        heading("This week only", 1, "center"),
                        text(
                            "<p><strong>20% off</strong> our favourite product until Sunday.</p>",
                            "center",
                        ),
                    ]
                ],
                [
                    [image("The product on offer", "Product", "300x300")],
                    [
                        heading("The product", 2),
                        text(
                            "<p>What it is, what it does, <strong>€49</strong> instead of €59.</p>"
                        ),
                        button("Shop now"),
                    ],
                ],
                [
                    [
                        image("Second product", "Product 2", "300x300"),
                        heading("Another product", 3),
                        button("See it"),
                    ],
                    [
                        image("Third product", "Product 3", "300x300"),
                        heading("And one more", 3),
                        button("See it"),
                    ],
                ],
                [[DIVIDER, *FOOTER]],
            ),
        ),
        VisualStarter(
            "visual_event",
            "Event invitation",
            "An invitation with the date, the place and a button to reply.",
            'You are invited, {{ contact.first_name | default("friend") }}',
            "Save the date and tell us if you come",
            _doc(
                [
                    [
                        image("The event", "Our event"),
                        heading("You are invited", 1, "center"),
                        text(f"<p>{HELLO} we would love to see you.</p>", "center"),
                    ]
                ],
                [
                    [
                        heading("When", 3, "center"),
                        text("<p>Thursday 12 March<br>18:00 to 21:00</p>", "center"),
                    ],
                    [
                        heading("Where", 3, "center"),
                        text("<p>The venue<br>1 Main Street, Town</p>", "center"),
                    ],
                ],
                [[button("I will be there", "center"), SPACER, DIVIDER, *FOOTER]],
            ),
        ),
        VisualStarter(
            "visual_welcome",
            "Welcome",
            "A warm first email: thanks, what to expect, where to start.",
            "Welcome to {{ project.name }}",
            "Thanks for joining: here is where to start",
            _doc(
                [
                    [
                        heading(
                            'Welcome, {{ contact.first_name | default("friend") }}!', 1, "center"
                        ),
                        text("<p>Thank you for joining {{ project.name }}.</p>", "center"),
                    ]
                ],
                [
                    [
                        heading("What to expect", 2),
                        text(
                            "<ul><li>One email a month, no more.</li>"
                            "<li>News before anyone else.</li>"
                            "<li>Offers only for subscribers.</li></ul>"
                        ),
                        button("Start here"),
                    ]
                ],
                [[DIVIDER, *FOOTER]],
            ),
        ),
        VisualStarter(
            "visual_receipt",
            "Receipt",
            "An order confirmation: what was bought, the total, where it goes.",
            "Your receipt from {{ project.name }}",
            "Thank you for your order",
            _doc(
                [
                    [
                        heading("Thank you for your order", 1),
                        text(f"<p>{HELLO} here is your receipt.</p>"),
                    ]
                ],
                [
                    [text('<p><strong>Order</strong><br>{{ data.order_id | default("") }}</p>')],
                    [text('<p><strong>Total</strong><br>{{ data.order_total | default("") }}</p>')],
                ],
                [
                    [
                        DIVIDER,
                        text("<p>Questions about your order? Just reply to this email.</p>"),
                        button("See your order"),
                        *FOOTER,
                    ]
                ],
            ),
        ),
    )
}
