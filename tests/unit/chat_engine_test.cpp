// Unit tests of the chat-template engine itself: whitespace control, loops, scoping, macros,
// filters, tests, Python-like values, error positions and the sandbox's resource limits.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "chat/template.h"

namespace {

using nlohmann::ordered_json;

std::string render(const std::string& src, const ordered_json& ctx = ordered_json::object()) {
  auto r = minnow::chat::render_template(src, ctx);
  if (!r.ok()) return "ERROR: " + r.error().message;
  return *r;
}

std::string error_of(const std::string& src, const ordered_json& ctx = ordered_json::object()) {
  auto r = minnow::chat::render_template(src, ctx);
  return r.ok() ? "no error" : r.error().message;
}

TEST(ChatEngine, WhitespaceControl) {
  EXPECT_EQ(render("a  {{- 'b' -}}  c"), "abc");
  EXPECT_EQ(render("{% if true %}\nx\n{% endif %}\ny"), "x\ny");       // trim_blocks
  EXPECT_EQ(render("a\n    {% if true %}x{% endif %}\nb"), "a\nxb");   // lstrip_blocks
  EXPECT_EQ(render("a\n    {%+ if true %}x{% endif %}"), "a\n    x");  // `+` keeps it
  EXPECT_EQ(render("a\n  {{ 'x' }}\n"), "a\n  x");  // not for {{ }}; one trailing newline dropped
  EXPECT_EQ(render("{# c #}\nx"), "x");
  EXPECT_EQ(render("{% raw %}{{ x }}{% endraw %}"), "{{ x }}");
  EXPECT_EQ(render("x {%- if true -%} \n y {%- endif %}"), "xy");
}

TEST(ChatEngine, LoopVariables) {
  EXPECT_EQ(render("{% for x in [1,2,3] %}{{ loop.index }}{{ loop.first }}{{ loop.last }}|{% endfor %}"),
            "1TrueFalse|2FalseFalse|3FalseTrue|");
  EXPECT_EQ(render("{% for x in [1,2,3] %}{{ loop.revindex0 }}{{ loop.length }}{% endfor %}"), "231303");
  EXPECT_EQ(render("{% for x in 'ab' %}{{ loop.previtem }}{{ x }}{{ loop.nextitem }},{% endfor %}"),
            "ab,ab,");
  EXPECT_EQ(render("{% for x in [] %}a{% else %}empty{% endfor %}"), "empty");
  EXPECT_EQ(render("{% for x in range(10) if x is odd %}{{ x }}{% endfor %}"), "13579");
  EXPECT_EQ(render("{% for x in range(10) %}{% if x == 3 %}{% break %}{% endif %}{% if x == 1 %}{% continue "
                   "%}{% endif %}{{ x }}{% endfor %}"),
            "02");
  EXPECT_EQ(render("{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}", {{"d", {{"b", 1}, {"a", 2}}}}),
            "b=1;a=2;");
}

TEST(ChatEngine, ScopingAndNamespace) {
  EXPECT_EQ(render("{% set x = 1 %}{% for i in [1] %}{% set x = 2 %}{% endfor %}{{ x }}"), "1");
  EXPECT_EQ(
      render(
          "{% set ns = namespace(x=1) %}{% for i in [1,2] %}{% set ns.x = ns.x + i %}{% endfor %}{{ ns.x }}"),
      "4");
  EXPECT_EQ(render("{% set b %}in {{ 1 + 1 }}{% endset %}[{{ b }}]"), "[in 2]");
  EXPECT_EQ(render("{% set a, b = 1, 2 %}{{ a }}{{ b }}"), "12");
}

TEST(ChatEngine, Macros) {
  EXPECT_EQ(render("{% macro m(a, b='x') %}{{ a }}-{{ b }}{% endmacro %}{{ m(1) }} {{ m(2, b='y') }}"),
            "1-x 2-y");
  EXPECT_EQ(render("{% macro f(n) %}{% if n > 0 %}{{ n }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(3) }}"),
            "321");
  EXPECT_EQ(render("{% macro w() %}<{{ caller() }}>{% endmacro %}{% call w() %}body{% endcall %}"), "<body>");
}

TEST(ChatEngine, Expressions) {
  EXPECT_EQ(render("{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 2 ** 10 }}"),
            "3 -4 1 2 3.5 1024");
  EXPECT_EQ(render("{{ 'a' ~ 1 ~ none }} {{ 'a' + 'b' }} {{ [1] + [2] }}"), "a1None ab [1, 2]");
  EXPECT_EQ(render("{{ 'x' if false else 'y' }}{{ 'z' if false }}"), "y");
  EXPECT_EQ(render("{{ 'abcdef'[1:3] }} {{ 'abc'[::-1] }} {{ [1,2,3][-1] }} {{ 'héllo'[1] }}"), "bc cba 3 é");
  EXPECT_EQ(render("{{ 'b' in 'abc' }} {{ 2 not in [1,2] }} {{ 'k' in {'k': 1} }}"), "True False True");
  EXPECT_EQ(render("{{ {'a': [1, 'x', none, true, 1.5]} }}"), "{'a': [1, 'x', None, True, 1.5]}");
  EXPECT_EQ(render("{{ 1 == 1.0 }} {{ 0.1 + 0.2 }} {{ 1e20 }} {{ 3.0 }}"),
            "True 0.30000000000000004 1e+20 3.0");
  EXPECT_EQ(render("{{ not x is defined and y is undefined }}"), "True");
  EXPECT_EQ(render("{{ d.missing is defined }}{{ d.missing }}", {{"d", ordered_json::object()}}), "False");
}

TEST(ChatEngine, Filters) {
  ordered_json ctx = {
      {"msgs", {{{"role", "user"}, {"c", "hi"}}, {{"role", "tool"}}, {{"role", "user"}, {"c", "yo"}}}}};
  EXPECT_EQ(
      render("{{ msgs | selectattr('role', 'equalto', 'user') | map(attribute='c') | join(',') }}", ctx),
      "hi,yo");
  EXPECT_EQ(render("{{ msgs | rejectattr('c', 'defined') | list | length }}", ctx), "1");
  EXPECT_EQ(render("{{ {'b': 'é', 'a': [1, 2]} | tojson }}"), "{\"b\": \"é\", \"a\": [1, 2]}");
  EXPECT_EQ(render("{{ {'a': [1]} | tojson(indent=2) }}"), "{\n  \"a\": [\n    1\n  ]\n}");
  EXPECT_EQ(render("{{ '  x ' | trim }}|{{ 'ab' | upper }}|{{ 'hello world' | title }}|{{ 'aXb' | "
                   "replace('X', '-') }}"),
            "x|AB|Hello World|a-b");
  EXPECT_EQ(render("{{ x | default('d') }} {{ '' | default('e', true) }} {{ [3,1,2] | sort | first }}"),
            "d e 1");
  EXPECT_EQ(render("{{ ['a','A','b'] | unique | list }} {{ {'b':1,'a':2} | dictsort }}"),
            "['a', 'b'] [['a', 2], ['b', 1]]");
  EXPECT_EQ(render("{{ '3' | int + 1 }} {{ 'x' | int }} {{ 2.567 | round(2) }} {{ -3 | abs }}"),
            "4 0 2.57 3");
  EXPECT_EQ(render("{{ 'a\nb' | indent(2) }}|{{ 'a\nb' | indent(2, true) }}"), "a\n  b|  a\n  b");
  EXPECT_EQ(render("{{ '<a>' | e }} {{ ('x' | safe) + '<' }}"), "&lt;a&gt; x&lt;");
}

TEST(ChatEngine, StringMethods) {
  EXPECT_EQ(
      render(
          "{{ ' a '.strip() }}|{{ 'xxaxx'.strip('x') }}|{{ 'a,b,c'.split(',', 1) }}|{{ ' a  b '.split() }}"),
      "a|a|['a', 'b,c']|['a', 'b']");
  EXPECT_EQ(
      render(
          "{{ 'abc'.startswith(('x', 'a')) }} {{ 'abc'.endswith('bc') }} {{ '{} and {}'.format(1, 'x') }}"),
      "True True 1 and x");
  EXPECT_EQ(render("{{ d.get('a') }} {{ d.get('z', 5) }} {{ d.keys() | list }}", {{"d", {{"a", 1}}}}),
            "1 5 ['a']");
  EXPECT_EQ(render("{{ strftime_now('%Y-%m-%d') }}"), "2026-07-04");
}

TEST(ChatEngine, ErrorsCarryPosition) {
  EXPECT_EQ(error_of("line one\n{{ x | nope }}"), "chat template: line 2, column 6: no filter named 'nope'");
  EXPECT_EQ(error_of("{% if x %}"),
            "chat template: line 1, column 11: unexpected end of template, expected 'elif'");
  EXPECT_EQ(error_of("\n\n  {{ raise_exception('bad role') }}"), "chat template: line 3, column 6: bad role");
  EXPECT_EQ(error_of("{{ x.y.z }}"), "chat template: line 1, column 4: 'x' is undefined");
  EXPECT_NE(error_of("{{ [].append(1) }}"), "no error");  // the immutable sandbox refuses mutation
  EXPECT_NE(error_of("{% frobnicate %}"), "no error");
  EXPECT_NE(error_of("{{ 1 / 0 }}"), "no error");
  EXPECT_NE(error_of("{{ 'unterminated }}"), "no error");
}

TEST(ChatEngine, ResourceLimits) {
  EXPECT_NE(error_of("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}"), "no error");
  EXPECT_NE(error_of("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"),
            "no error");
  EXPECT_NE(error_of("{% set ns = namespace(s='xxxxxxxxxxxxxxxx') %}{% for i in range(64) %}{% set ns.s = "
                     "ns.s ~ ns.s %}{% endfor %}"),
            "no error");
  EXPECT_NE(error_of("{{ 'x' * 1000000000000 }}"), "no error");
  EXPECT_NE(error_of("{{ " + std::string(5000, '(') + "1" + std::string(5000, ')') + " }}"), "no error");
  EXPECT_NE(error_of("{{ " + std::string(3000, '[') + " }}"), "no error");
  EXPECT_NE(error_of("{{ 2 ** 200 }}"), "no error");
  EXPECT_NE(error_of(std::string(3000, ' ') + std::string(2000, '{') + "% if x %}"), "no error");
  std::string nested;
  for (int i = 0; i < 400; ++i) nested += "{% if true %}";
  EXPECT_NE(error_of(nested), "no error");
}

TEST(ChatEngine, TemplateReuse) {
  auto t = minnow::chat::Template::parse("{{ bos_token }}{% for m in messages %}{{ m.content }}{% endfor %}");
  ASSERT_TRUE(t.ok());
  ordered_json ctx = {{"bos_token", "<s>"}, {"messages", {{{"role", "user"}, {"content", "a"}}}}};
  EXPECT_EQ(*t->render(ctx), "<s>a");
  ctx["messages"].push_back({{"role", "assistant"}, {"content", "b"}});
  EXPECT_EQ(*t->render(ctx), "<s>ab");
  EXPECT_FALSE(t->render(ordered_json::array()).ok());
}

}  // namespace

namespace {

TEST(ChatEngine, HostileValuesStayAcyclicAndShallow) {
  EXPECT_NE(
      error_of(
          "{% set ns = namespace(l=[]) %}{% for i in range(100000) %}{% set ns.l = [ns.l] %}{% endfor %}"),
      "no error");
  EXPECT_NE(error_of("{% set ns = namespace() %}{% set ns.me = ns %}"), "no error");
  EXPECT_NE(error_of("{% set a = namespace() %}{% set l = [a] %}{% set a.f = l.count %}"), "no error");
  EXPECT_NE(error_of("{% set ns = namespace() %}{% macro m() %}{% set ns.c = caller %}{% endmacro %}"
                     "{% call m() %}x{% endcall %}{{ ns.c() }}"),
            "no error");
}

}  // namespace

namespace {

TEST(ChatEngine, PythonStringFormattingAndEscapes) {
  EXPECT_EQ(render("{{ '%s=%d (%.2f) %r %%' % ('a', 3, 1.5, 'q') }}"), "a=3 (1.50) 'q' %");
  EXPECT_EQ(render("{{ '%(k)s!' % {'k': 'v'} }} {{ '%05d' % 42 }} {{ 2 * 'ab' }}"), "v! 00042 abab");
  EXPECT_NE(error_of("{{ 1000000000 * 'abcdefghij' }}"), "no error");
  EXPECT_NE(error_of("{{ '%s %s' % ('a',) }}"), "no error");
  EXPECT_EQ(render("{{ '\\u00e9\\x41\\n' }}"),
            "\xc3\xa9"
            "A\n");
}

}  // namespace
