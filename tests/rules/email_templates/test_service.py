"""An email template rendered alone: values filled in Jinja2's sandbox, escaped in the HTML body only, the
subject on one line; a missing value or a reach out of the sandbox fails with the part it failed in."""

import pytest

from batchcall.email_templates.service import TemplateFailed, render
from batchcall.models import EmailTemplate
from batchcall.providers.base import EmailContent


def _template(
    subject: str = "Hi {{ first_name }}", html: str | None = None, text: str | None = None
) -> EmailTemplate:
    return EmailTemplate(name="welcome", subject=subject, html=html, text=text)


def test_values_fill_every_part() -> None:
    template = _template(
        html="<p>Your {{ plan }} plan: {{ seats }} seats</p>",
        text="{% for item in items %}- {{ item }}\n{% endfor %}",
    )
    rendered = render(template, {"first_name": "Ada", "plan": "Pro", "seats": 3, "items": ["a", "b"]})
    assert rendered == EmailContent(subject="Hi Ada", text="- a\n- b\n", html="<p>Your Pro plan: 3 seats</p>")


def test_a_part_the_template_lacks_is_none() -> None:
    assert render(_template(text="Hello"), {"first_name": "Ada"}) == EmailContent("Hi Ada", "Hello", None)
    assert render(_template(html="<p>Hello</p>"), {"first_name": "Ada"}).text is None


def test_values_are_escaped_in_the_html_body_but_not_in_the_text_or_the_subject() -> None:
    template = _template(subject="{{ name }}", html="<p>{{ name }}</p>", text="{{ name }}")
    rendered = render(template, {"name": "<b>Tom & Jerry</b>"})
    assert rendered.html == "<p>&lt;b&gt;Tom &amp; Jerry&lt;/b&gt;</p>"
    assert rendered.text == rendered.subject == "<b>Tom & Jerry</b>"


def test_the_subject_is_one_line_whatever_the_values_hold() -> None:
    template = _template(subject="  Order {{ order }}\n", text="Thanks")
    values = {"order": "42\r\nBcc: everyone@example.com\nX-Spam: 1\u2028more"}
    subject = render(template, values).subject
    assert subject == "Order 42 Bcc: everyone@example.com X-Spam: 1 more"
    assert not set(subject) & {"\r", "\n", "\u2028"}


def test_a_missing_value_fails_naming_the_template_the_part_and_the_value() -> None:
    template = _template(subject="Hello", html="<p>{{ first_name }}</p>", text="{{ first_name }}")
    with pytest.raises(TemplateFailed) as failed:
        render(template, {})
    assert failed.value.message == "email template 'welcome': text: 'first_name' is undefined"
    with pytest.raises(
        TemplateFailed, match=r"^email template 'welcome': subject: 'first_name' is undefined$"
    ):
        render(_template(), {"last_name": "Lovelace"})


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ first_name.__init__.__globals__ }}",
        "{{ cycler.__init__.__globals__.os }}",
    ],
)
def test_reaching_out_of_the_sandbox_fails(source: str) -> None:
    with pytest.raises(TemplateFailed, match=r"^email template 'welcome': html: .*unsafe"):
        render(_template(subject="Hi", html=source, text="Hi"), {"first_name": "Ada"})


def test_an_expression_of_the_template_that_fails_is_the_templates_failure() -> None:
    with pytest.raises(TemplateFailed, match=r"^email template 'welcome': text: division by zero$"):
        render(_template(text="{{ 1 / zero }}"), {"first_name": "Ada", "zero": 0})


@pytest.mark.parametrize(
    "source",
    [
        "{{ 'x' * 10000000000 }}",
        "{{ [1, 2] * 999999999 }}",
        "{{ 2 ** 99999999 }}",
        "{% for _ in range(99999) %}{{ 'x' * 99 }}{% endfor %}",
    ],
)
def test_a_template_cannot_take_the_senders_memory(source: str) -> None:
    with pytest.raises(TemplateFailed, match=r"^email template 'welcome': text: "):
        render(_template(text=source), {"first_name": "Ada"})
