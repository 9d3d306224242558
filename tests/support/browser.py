"""Browser-test steps shared by the back-office tests."""

from __future__ import annotations

from tests.factories import PASSWORD


def log_in(page, email: str) -> None:
    """Log in through the form as the factory user with this email; lands on /admin/."""
    page.goto("/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/admin/")
