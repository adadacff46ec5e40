"""An email template rendered alone: values filled in Jinja2's sandbox, escaped in the HTML body only, the
subject on one line; a missing value, a reach out of the sandbox or a template that would take the sender's
time or memory fails with the part it failed in, and fails fast."""

import time

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


BIG = '{% set big = "x" * 900000 %}'
DOUBLED = " %}{% set s = ".join(["{% set s = 'x' * 900000"] + ["s ~ s"] * 40) + " %}{{ s|length }}"
MEMORY = "it makes or reads more than 10,000,000 characters"
LOOPS = "its loops take more than 500,000 steps"
OUTPUT = "it renders more than 1,000,000 characters"
BITS = "it makes a whole number of more than 4,096 bits"


@pytest.mark.parametrize(
    ("source", "cause"),
    [
        pytest.param("{{ 'x' * 10000000000 }}", MEMORY, id="repetition"),
        pytest.param("{{ [1, 2] * 999999999 }}", MEMORY, id="list repetition"),
        pytest.param(
            "{% for _ in range(99999) %}{{ 'x' * 99 }}{% endfor %}", OUTPUT, id="repeated repetition"
        ),
        pytest.param(
            "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}",
            LOOPS,
            id="nested loops",
        ),
        pytest.param(
            "{% for a in range(3000) %}" + "{% set b = a %}" * 2000 + "{% endfor %}",
            LOOPS,
            id="a long loop body",
        ),
        pytest.param(DOUBLED, MEMORY, id="doubling by ~"),
        pytest.param(DOUBLED.replace("~", "+"), MEMORY, id="doubling by +"),
        pytest.param(BIG + "{% set l = [big] %}" + "{% set l = l + l %}" * 40, MEMORY, id="list doubling"),
        pytest.param(
            "{% set t = (1, 1) %}" + "{% set t = (t, t) %}" * 60 + "{{ t }}", MEMORY, id="tuple doubling"
        ),
        pytest.param(
            "{% set ns = namespace(t=(1, 1)) %}" + "{% set ns.t = (ns.t, ns.t) %}" * 60 + "{{ ns }}",
            MEMORY,
            id="namespace doubling",
        ),
        pytest.param(
            "{% set t = (1, 1) %}" + "{% set t = (t, t) %}" * 60 + "{{ {t: 1} }}",
            MEMORY,
            id="hashing a doubling",
        ),
        pytest.param(
            # Hashing a tuple nested some 200,000 deep overflows the C stack: the worker would crash.
            "{% set t = () %}{% for a in range(100000) %}{% for b in range(2) %}{% set t = (t,) %}"
            "{% endfor %}{% endfor %}{{ {t: 1} }}",
            LOOPS,
            id="hashing a deep nest",
        ),
        pytest.param("{{ 2 ** 99999999 }}", BITS, id="power"),
        pytest.param("{% set n = 2 ** 64 %}" + "{% set n = n ** 64 %}" * 4, BITS, id="powers of powers"),
        pytest.param(
            "{% set ns = namespace(n=2 ** 64) %}"
            "{% for _ in range(40) %}{% set ns.n = ns.n * ns.n %}{% endfor %}",
            BITS,
            id="squaring",
        ),
        pytest.param('{{ "%999999999s"|format(1) }}', MEMORY, id="format filter width"),
        pytest.param('{{ "%999999999s" % 1 }}', MEMORY, id="% width"),
        pytest.param('{{ "%(n)999999999s" % {"n": 1} }}', MEMORY, id="% width after a key"),
        pytest.param('{{ "%*s" % (999999999, 1) }}', MEMORY, id="% width from the values"),
        pytest.param('{{ "%.999999999f" % 1.0 }}', MEMORY, id="% precision"),
        pytest.param(
            '{{ "{:>999999999}".format(1) }}',
            "an email template cannot call the method 'format'",
            id="str.format",
        ),
        pytest.param(BIG + '{{ "x"|replace("x", big)|replace("x", big) }}', MEMORY, id="replace filter"),
        pytest.param(BIG + "{{ big|replace('', big) }}", MEMORY, id="replace filter between characters"),
        pytest.param(BIG + '{{ big.replace("x", big) }}', MEMORY, id="replace method"),
        pytest.param(BIG + "{{ big|list|join(big) }}", MEMORY, id="join filter"),
        pytest.param(BIG + "{{ big.join(big) }}", MEMORY, id="join method"),
        pytest.param(
            '{% set s = "a" * 4000000 %}{{ s|trim("b" * 4000000 ~ "a") }}',
            MEMORY,
            id="trim by many characters",
        ),
        pytest.param(
            '{{ "x".ljust(999999999) }}', "an email template cannot call the method 'ljust'", id="ljust"
        ),
        pytest.param(
            '{{ "x".zfill(999999999) }}', "an email template cannot call the method 'zfill'", id="zfill"
        ),
        pytest.param(
            '{{ "\t".expandtabs(999999999) }}',
            "an email template cannot call the method 'expandtabs'",
            id="expandtabs",
        ),
        pytest.param(
            '{{ ("x"|attr("center"))(999999999) }}',
            "an email template cannot call the method 'center'",
            id="a method through attr",
        ),
        pytest.param(
            "{% set l = [1] %}{% for _ in range(40) %}{{ l.extend(l) }}{% endfor %}",
            "an email template cannot call the method 'extend'",
            id="growing a list in place",
        ),
        pytest.param(
            '{{ 1.5|round(999999999, "floor") }}', "round takes at most 100 digits", id="round digits"
        ),
        pytest.param('{{ "x"|round(9, "floor") }}', "round takes a number", id="round of a text"),
        pytest.param('{{ "%999999999s" is odd }}', "the test 'odd' takes a number", id="odd of a text"),
        pytest.param(
            "{{ ([[1] * 300] * 300)|sum(start=[])|length }}", "sum adds up numbers only", id="sum of lists"
        ),
        pytest.param(
            BIG + "{% for _ in range(100000) %}{% if 'y' in big %}{% endif %}{% endfor %}",
            MEMORY,
            id="searching in a loop",
        ),
        pytest.param(
            BIG + "{% for _ in range(100000) %}{% set copy = big[1:] %}{% endfor %}",
            MEMORY,
            id="slicing in a loop",
        ),
        pytest.param(
            BIG + "{% for _ in range(100000) %}{% set words = big|wordcount %}{% endfor %}",
            MEMORY,
            id="filtering in a loop",
        ),
        pytest.param(
            "{{ 'x' * 999999 }}{{ 'x' * 999999 }}",
            OUTPUT,
            id="output",
        ),
        pytest.param('{{ "zz" in ("ā" * 4900000)|select("string") }}', LOOPS, id="a lazy filter searched"),
        pytest.param(
            '{{ "zz" in ("ā" * 4900000)' + '|select("string")' * 10 + " }}", LOOPS, id="lazy filters chained"
        ),
        pytest.param('{{ ("ā" * 4900000)|reject("string")|list }}', LOOPS, id="a lazy filter yielding none"),
        pytest.param('{{ ("ā" * 4900000)|sort|length }}', MEMORY, id="a list sorted"),
        pytest.param('{{ ("ā" * 4900000)|groupby(0)|length }}', MEMORY, id="a list grouped"),
        pytest.param('{{ ("ā," * 2400000).split(",")|length }}', MEMORY, id="a text split"),
    ],
)
def test_a_template_cannot_take_the_senders_time_or_memory(source: str, cause: str) -> None:
    started = time.perf_counter()
    with pytest.raises(TemplateFailed) as failed:
        render(_template(text=source), {"first_name": "Ada"})
    assert failed.value.message == f"email template 'welcome': text: {cause}"
    # Unbounded, each of these takes minutes, or gigabytes; bounded, a few tenths of a second at most.
    assert time.perf_counter() - started < 2


def test_a_template_stored_before_the_sandbox_refused_what_it_uses_fails_to_render() -> None:
    template = _template(text="{% macro twice() %}{{ twice() }}{{ twice() }}{% endmacro %}{{ twice() }}")
    with pytest.raises(
        TemplateFailed, match=r"^email template 'welcome': text: an email template cannot use \{% macro %\}"
    ):
        render(template, {"first_name": "Ada"})


def test_an_order_email_with_its_items_loops_and_filters_renders() -> None:
    template = _template(
        subject="Your order {{ order.number }}, {{ first_name|default('customer')|title }}",
        html=(
            "<ul>{% for item in order['items'] %}"
            "<li class=\"{{ loop.cycle('odd', 'even') }}\">{{ loop.index }}. {{ item.name|trim|capitalize }}"
            "{% if 'gift' in item.tags %} (gift){% endif %}: {{ item.quantity }} x "
            "{{ '%.2f'|format(item.price) }}</li>"
            "{% else %}<li>nothing</li>{% endfor %}</ul>"
            "{% set ns = namespace(total=0) %}{% for item in order['items'] %}"
            "{% set ns.total = ns.total + item.quantity * item.price %}{% endfor %}"
            "<p>{{ order['items']|length }} lines, {{ order['items']|sum(attribute='quantity') }} items: "
            "{{ '%.2f' % ns.total }}</p>"
            "<p>{{ order.note|striptags|truncate(20) }}</p>"
        ),
        text=(
            "{{ order['items']|map(attribute='name')|map('trim')|join(', ')|upper }}\n"
            "{{ (order['items']|first).sku|lower }} to {{ (order['items']|last).sku|lower }}, "
            "{{ order['items']|selectattr('price', 'gt', 5)|list|length }} over 5\n"
            "{{ order.number|int + 1 }} {{ order.number|replace('0', 'o') }} {{ first_name.split()[0] }} "
            "{{ order.get('coupon', 'no coupon') }} {{ 19.999|round(2) }}\n"
            "https://shop.example/track?n={{ first_name|lower|urlencode }}"
        ),
    )
    items = [
        {"name": "  tea <green> ", "quantity": 2, "price": 4.5, "sku": "T-1", "tags": []},
        {"name": "cup", "quantity": 1, "price": 12.0, "sku": "C-9", "tags": ["gift"]},
    ]
    order = {"number": "1070", "items": items, "note": "<p>Leave it at the <b>door</b>, please</p>"}
    rendered = render(template, {"first_name": "ada lovelace", "order": order})
    assert rendered == EmailContent(
        subject="Your order 1070, Ada Lovelace",
        html=(
            '<ul><li class="odd">1. Tea &lt;green&gt;: 2 x 4.50</li>'
            '<li class="even">2. Cup (gift): 1 x 12.00</li></ul>'
            "<p>2 lines, 3 items: 21.00</p>"
            "<p>Leave it at the...</p>"
        ),
        text=(
            "TEA <GREEN>, CUP\n"
            "t-1 to c-9, 1 over 5\n"
            "1071 1o7o ada no coupon 20.0\n"
            "https://shop.example/track?n=ada%20lovelace"
        ),
    )
