"""Writes tests/fixtures/jinja/expressions.json and adds Python's rendering to tests/fixtures/jinja/templates.json.

The reference is Python's jinja2 set up as transformers sets it up for apply_chat_template: an immutable sandbox with
trim_blocks and lstrip_blocks, the loop-controls extension, tojson as json.dumps(ensure_ascii=False, ...),
raise_exception, strftime_now, and the {% generation %} tag. expressions.json holds small templates that reach each
operator, filter, test, method and whitespace rule Reins' renderer implements, and templates that must be refused.
templates.json comes from make_chat_template_fixtures.mjs (@huggingface/jinja); this script renders its cases again and
records, per case, jinja2's text and whether the two engines agree.

Run with Debian's python3 (apt-get install python3-jinja2): /usr/bin/python3 tools/make_jinja_fixtures.py
"""
import json
import os
from datetime import datetime

import jinja2
from jinja2.ext import Extension, loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "jinja")
NOW = datetime(2026, 7, 4, 9, 5, 30)


class Generation(Extension):
    """transformers' AssistantTracker, reduced to what rendering needs: the block renders its body."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return jinja2.nodes.CallBlock(self.call_method("_render"), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


def environment():
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[Generation, loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: NOW.strftime(fmt)
    return env


def render(env, template, variables):
    try:
        return env.from_string(template).render(**variables), None
    except Exception as e:  # the fixture records that the template refuses, and why
        return None, f"{type(e).__name__}: {e}"


CONTEXT = {
    "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "<think>r</think>\n\nok"}],
    "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {"x": {"type": "integer"}}}}}],
    "d": {"b": 1, "a": 2, "items": "key named items"},
    "people": [{"name": "Ann", "age": 31}, {"name": "bob", "age": 25}, {"name": "Cy", "age": 31}],
    "empty": "",
    "n": 7,
    "f": 2.5,
    "none_value": None,
}

EXPRESSIONS = [
    # literals and printing (Python's str and repr)
    "{{ 1 }}|{{ -3 }}|{{ 2.5 }}|{{ 1.0 }}|{{ 1e3 }}|{{ 1.5e-7 }}|{{ 1e21 }}|{{ 0.1 + 0.2 }}|{{ 123456789012345678.0 }}",
    "{{ true }}|{{ false }}|{{ none }}|{{ True }}|{{ None }}|{{ undefined_name }}|",
    "{{ [1, 'a', none, true, 2.0] }}|{{ {'a': 1, 'b': [1, 2], 'c': {'d': 'x'}} }}|{{ ['it\\'s', \"q\\\"\", 'nl\\n'] }}",
    "{{ 'a' 'b' }}|{{ \"dq\" }}|{{ 'esc\\t\\\\|\\u00e9|\\x41' }}",
    # arithmetic and operators
    "{{ 1 + 2 * 3 - 4 / 2 }}|{{ 7 // 2 }}|{{ -7 // 2 }}|{{ -7 % 3 }}|{{ 7 % -3 }}|{{ 2 ** 10 }}|{{ 2 ** -1 }}|{{ 7.5 // 2 }}|{{ (1 + 2) * 3 }}",
    "{{ 'ab' * 3 }}|{{ [1] * 2 }}|{{ [1, 2] + [3] }}|{{ 'x' ~ 1 ~ none ~ true }}|{{ 'a' + 'b' }}|{{ true + 1 }}",
    "{{ 1 == 1.0 }}|{{ 'a' != 'b' }}|{{ [1, 2] == [1, 2] }}|{{ 1 < 2 < 3 }}|{{ 3 > 2 > 2 }}|{{ 'b' > 'a' }}|{{ 2 >= 2 }}|{{ [1, 2] < [1, 3] }}",
    "{{ 'a' in 'cab' }}|{{ 1 in [1, 2] }}|{{ 'k' in {'k': 1} }}|{{ 2 not in [1] }}|{{ not 1 == 2 }}|{{ not none }}",
    "{{ [] or 'e' }}|{{ 0 and 1 }}|{{ 'x' and 'y' }}|{{ none or none }}|{{ 1 if false }}|{{ 1 if true }}|{{ 'a' if 'x' else 'b' }}|{{ 'a' if 0 else 'b' if 1 else 'c' }}",
    "{{ -1 | abs }}|{{ - 3 }}|{{ -(2) }}|{{ +4 }}|{{ n - 1 }}|{{ messages | length - 1 }}",
    # attributes, subscripts, slices
    "{{ messages[0].content }}|{{ messages[0]['role'] }}|{{ messages[-1].role }}|{{ messages[5] }}|{{ d['items'] }}|{{ d.missing }}|",
    "{{ 'abcdef'[1:4] }}|{{ 'abcdef'[::-1] }}|{{ 'abcdef'[1:4:2] }}|{{ [1, 2, 3, 4][1:] }}|{{ [1, 2, 3][:-1] }}|{{ [1, 2, 3][-2:] }}|{{ 'abc'[-1] }}|{{ 'abc'[5] }}|",
    "{{ messages[1:] | length }}|{{ messages[::-1][0].role }}|{{ tools[0].function.name }}|{{ tools[0]['function']['parameters'].properties.x.type }}",
    # string methods
    "{{ '  a  '.strip() }}|{{ 'xxaxx'.strip('x') }}|{{ 'xax'.lstrip('x') }}|{{ '\\n\\na\\n'.lstrip('\\n') }}|{{ 'a\\n\\n'.rstrip('\\n') }}|{{ '\\n a \\n'.strip('\\n') }}|",
    "{{ 'a b  c'.split() }}|{{ ' a b '.split() }}|{{ 'a,b,,c'.split(',') }}|{{ 'a-b-c'.split('-', 1) }}|{{ 'x</think>y</think>z'.split('</think>')[-1] }}",
    "{{ 'Hello World'.upper() }}|{{ 'Hello'.lower() }}|{{ 'hello wORLD'.title() }}|{{ 'hELLO'.capitalize() }}|{{ 'abc'.startswith('a') }}|{{ 'abc'.endswith(('x', 'c')) }}",
    "{{ 'abcb'.replace('b', 'X') }}|{{ 'abcb'.replace('b', 'X', 1) }}|{{ 'abc'.find('c') }}|{{ 'abc'.find('z') }}|{{ 'a,b'.count(',') }}|{{ '-'.join(['a', 'b']) }}|{{ '12'.isdigit() }}",
    "{{ 'a\\nb\\n'.splitlines() }}|{{ d.get('a') }}|{{ d.get('z', 5) }}|{{ d.get('z') }}|{{ d.keys() | list }}|{{ d.values() | list }}|{{ d.items() | list }}",
    # filters
    "{{ '  x  ' | trim }}|{{ 'hello' | upper }}|{{ 'HeLLo' | lower }}|{{ 'hello world' | title }}|{{ 'hELLO' | capitalize }}|{{ 'a b c' | wordcount }}",
    "{{ [1, 2, 3] | join(', ') }}|{{ [1, 2] | join }}|{{ people | join(', ', attribute='name') }}|{{ [1, 2] | length }}|{{ 'abc' | count }}|{{ d | length }}",
    "{{ 'x' | default('d') }}|{{ missing | default('d') }}|{{ '' | default('d', true) }}|{{ none | default('d') }}|{{ missing | d('short') }}",
    "{{ 3.7 | int }}|{{ '42' | int }}|{{ 'x' | int }}|{{ '4.5' | int }}|{{ 2 | float }}|{{ '2.5' | float }}|{{ -3 | abs }}|{{ 2.5 | round }}|{{ 3.14159 | round(2) }}|{{ 2.7 | round(0, 'floor') }}",
    "{{ 'a\\nb' | indent(2) }}|{{ 'a\\nb' | indent(2, true) }}|{{ 'x\\n\\ny' | indent(2) }}|{{ 'x\\n\\ny' | indent(2, blank=true) }}|{{ 'a\\nb' | indent('> ') }}",
    "{{ [3, 1, 2] | sort }}|{{ ['b', 'A', 'a'] | sort }}|{{ ['b', 'A', 'a'] | sort(case_sensitive=true) }}|{{ [3, 1, 2] | sort(reverse=true) }}|{{ people | sort(attribute='age') | map(attribute='name') | list }}",
    "{{ d | dictsort }}|{{ d | items | list }}|{{ [1, 2, 2, 3, 1] | unique | list }}|{{ ['a', 'A', 'b'] | unique | list }}|{{ [3, 1] | reverse | list }}|{{ 'abc' | reverse }}",
    "{{ [1, 2, 3] | first }}|{{ [1, 2, 3] | last }}|{{ 'hey' | first }}|{{ [] | first }}|{{ 'ab' | list }}|{{ [1, 2, 3] | max }}|{{ [1, 2, 3] | min }}|{{ [1, 2, 3] | sum }}|{{ people | sum(attribute='age') }}",
    "{{ people | map(attribute='name') | list }}|{{ ['a', 'b'] | map('upper') | list }}|{{ people | selectattr('age', 'equalto', 31) | map(attribute='name') | list }}|{{ people | rejectattr('age', 'gt', 30) | list | length }}",
    "{{ [1, 2, 3, 4] | select('odd') | list }}|{{ [1, 2, 3, 4] | reject('odd') | list }}|{{ [0, 1, '', 'x'] | select | list }}|{{ people | selectattr('name', 'lower') | list | length }}",
    "{{ true | string }}|{{ none | string }}|{{ 1.5 | string }}|{{ [1, 2] | string }}|{{ 5 | string + 'x' }}|{{ '<a & b>' | e }}|{{ 'x' | safe }}",
    # tojson, as transformers defines it
    "{{ [1, 2] | tojson }}|{{ {'a': 'é\"', 'b': none, 'c': 1.5, 'd': true} | tojson }}|{{ 'a\\tb\\u0001\\\\' | tojson }}|{{ '\\u2028<&>' | tojson }}|{{ 1.0 | tojson }}",
    "{{ {'a': 1, 'b': [1, {'c': []}], 'e': {}} | tojson(indent=2) }}|{{ [] | tojson(indent=4) }}|{{ {'b': 1, 'a': 2} | tojson(sort_keys=true) }}|{{ tools | tojson }}",
    "{{ {'a': [1, 2]} | tojson(separators=(',', ':')) }}|{{ '😀 日本' | tojson }}",
    # tests
    "{{ x is defined }}|{{ x is undefined }}|{{ n is defined }}|{{ none is none }}|{{ 1 is number }}|{{ 1.5 is number }}|{{ 'a' is string }}|{{ [1] is iterable }}|{{ 'a' is iterable }}|{{ {} is mapping }}|{{ [] is mapping }}",
    "{{ 3 is integer }}|{{ 3.0 is float }}|{{ 3 is float }}|{{ true is boolean }}|{{ 1 is boolean }}|{{ 1 is odd }}|{{ 2 is even }}|{{ 6 is divisibleby(3) }}|{{ 6 is divisibleby 4 }}",
    "{{ 'a' is lower }}|{{ 'A' is upper }}|{{ 1 is equalto 1 }}|{{ 1 is eq(2) }}|{{ 2 is gt 1 }}|{{ 1 is in [1] }}|{{ false is sameas false }}|{{ x is not defined }}|{{ true is true }}|{{ 0 is false }}|{{ range is callable }}",
    "{{ messages[0].content is string }}|{{ tools is not none }}|{{ none_value is none }}|{{ messages[1].tool_calls is defined }}",
    # statements and scoping
    "{% set x = 5 %}{% for i in range(2) %}{{ x }}{% set x = i %}{{ x }}{% endfor %}{{ x }}",
    "{% for i in range(3) %}{% if i > 0 %}{{ x }}{% endif %}{% set x = i %}{% endfor %}",
    "{% set x = 5 %}{% if true %}{% set x = 6 %}{% endif %}{{ x }}",
    "{% set ns = namespace(a=1, found=false) %}{% for i in range(4) %}{% set ns.a = ns.a + i %}{% if i == 2 %}{% set ns.found = true %}{% endif %}{% endfor %}{{ ns.a }}|{{ ns.found }}",
    "{% set a, b = 1, 2 %}{{ a }}{{ b }}|{% set t = (1, 2) %}{{ t[1] }}|{% set x %}block {{ 1 + 1 }}{% endset %}{{ x }}",
    "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}|{% for k in d %}{{ k }},{% endfor %}|{% for c in 'ab' %}{{ c }}.{% endfor %}|{% for a, b in [[1, 2], [3, 4]] %}{{ a * b }} {% endfor %}",
    "{% for i in [1, 2, 3] if i != 2 %}{{ loop.index }}/{{ loop.length }}:{{ loop.first }}{{ loop.last }} {% endfor %}|{% for i in [] %}x{% else %}empty{% endfor %}",
    "{% for i in [10, 20, 30] %}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.previtem }}{{ loop.nextitem }}{{ loop.cycle('a', 'b') }};{% endfor %}",
    "{% for i in [1, 2, 3, 4] %}{% if i == 2 %}{% continue %}{% endif %}{{ i }}{% if i == 3 %}{% break %}{% endif %}{% endfor %}",
    "{% for m in messages %}{% for c in m.content %}{% if loop.index > 2 %}{% break %}{% endif %}{{ c }}{% endfor %}|{% endfor %}",
    "{% macro f(a, b='z') %}[{{ a }}{{ b }}]{% endmacro %}{{ f(1) }}{{ f(2, b='q') }}{{ f(a=3) }}|{% set y = 1 %}{% macro g() %}{{ y }}{% endmacro %}{% set y = 2 %}{{ g() }}",
    "{% if n > 5 %}big{% elif n > 2 %}mid{% else %}small{% endif %}|{% if none %}x{% elif empty %}y{% else %}z{% endif %}",
    "{{ range(3) | list }}|{{ range(1, 7, 2) | list }}|{{ range(5, 0, -2) | list }}|{{ range(0) | list }}|{{ strftime_now('%d %b %Y') }}|{{ strftime_now('%Y-%m-%d %H:%M:%S %A %B %j') }}",
    "{% generation %}G{{ 1 }}{% endgeneration %}|{%- generation -%}\n G \n{%- endgeneration -%}|{{ dict(a=1) }}",
    # whitespace control: trim_blocks, lstrip_blocks, '-' and '+'
    "  {% if true %}\n  x\n  {% endif %}\n  y",
    "a  {%- if true -%}  b  {%- endif -%}  c",
    "{#- c -#}  x|a\n{# c #}\nb|a {# c #} b",
    "  {%+ if true %}kept{% endif %}\nline",
    "{% for i in range(2) %}\n  {{ i }}\n{% endfor %}\nend\n",
    "x {% if true %}y{% endif %}\n z",
    "{{- ' a ' -}}\n\n{{ 'b' }}   {{- 'c' }}",
    "{% raw %}{{ not rendered }}{% endraw %}|{%- raw -%}  {% x %}  {%- endraw -%}|",
    "a\r\n{% if true %}\r\nb\r\n{% endif %}\r\nc",
    "{{ 'x' }}\n",
    "{{ '}}' }}{{ {'a': {'b': 1}}['a']['b'] }}{{ '{%' }}",
]

ERRORS = [
    ("{{ raise_exception('bad conversation') }}", "the template raised"),
    ("{% for x in y %}", "never closed"),
    ("{% if true %}x", "never closed"),
    ("{{ x | nosuchfilter }}", "no filter named"),
    ("{{ x is nosuchtest }}", "no test named"),
    ("{% include 'other.jinja' %}", "not supported"),
    ("{% endfor %}", "without the block"),
    ("{{ 1 + }}", "expression"),
    ("line one\nline two {{ 'unclosed }}", "line 2"),
    ("{{ 1 + 'a' }}", "unsupported operand"),
    ("{{ undefined_thing + 1 }}", "undefined"),
    ("{{ 1 / 0 }}", "division by zero"),
    ("{% set x.y = 1 %}", "namespace"),
    ("{{ 'a' < 1 }}", "not supported"),
    ("{{ messages.append(1) }}", "not something to call"),
]


def main():
    env = environment()
    cases = []
    for template in EXPRESSIONS:
        rendered, error = render(env, template, CONTEXT)
        if error:
            raise SystemExit(f"jinja2 refuses a case meant to render: {template!r}: {error}")
        cases.append({"template": template, "rendered": rendered})
    errors = []
    for template, fragment in ERRORS:
        rendered, error = render(env, template, CONTEXT)
        if error is None:
            raise SystemExit(f"jinja2 renders a case meant to be refused: {template!r}")
        errors.append({"template": template, "jinja2_error": error, "reins_error_contains": fragment})
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "expressions.json"), "w", encoding="utf-8") as f:
        json.dump({"renderer": f"jinja2 {jinja2.__version__} (transformers' settings)", "now": NOW.isoformat(), "context": CONTEXT,
                   "cases": cases, "errors": errors}, f, ensure_ascii=False, indent=1)
        f.write("\n")

    path = os.path.join(OUT, "templates.json")
    with open(path, encoding="utf-8") as f:
        fixture = json.load(f)
    disagreements = 0
    for case in fixture["cases"]:
        template = fixture["templates"][case["template"]]["template"]
        rendered, error = render(env, template, case["variables"])
        case["jinja2"] = rendered
        case["jinja2_error"] = error
        case["engines_agree"] = rendered == case["rendered"] and (error is None) == (case["error"] is None)
        disagreements += not case["engines_agree"]
    with open(path, "w", encoding="utf-8") as f:
        json.dump(fixture, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"{len(cases)} expression cases, {len(errors)} refusals; templates: {len(fixture['cases'])} cases, {disagreements} where the engines disagree")


if __name__ == "__main__":
    main()
