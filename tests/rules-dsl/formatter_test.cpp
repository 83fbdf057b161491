// klaxon fmt's layout: canonical, comment-preserving, idempotent.
#include <doctest/doctest.h>

#include <string>

#include "rules-dsl/rules_dsl.h"

namespace {

std::string Format(const std::string& text) {
  auto r = klaxon::rules_dsl::FormatRules(text, "t.rules");
  INFO(r.status().message());
  REQUIRE(r.ok());
  // Idempotent, and the result checks the same way.
  auto again = klaxon::rules_dsl::FormatRules(*r, "t.rules");
  REQUIRE(again.ok());
  CHECK(*again == *r);
  return *r;
}

}  // namespace

TEST_CASE("fmt: canonical layout of a messy rule") {
  const std::string messy =
      "ACTION   log=log( path : \"-\" ,send_resolved:TRUE, )\n"
      "\n\n\n"
      "Rule  r   {\n"
      "\tWHEN   Frequency>5 /MIN   FOR service:x   and   (level:error or level:fatal)  "
      "!has:user.id\n"
      "\n\n"
      "  GROUP   BY environment ,release\n"
      "  severity   CRITICAL\n"
      "      labels {\n    team: \"a\",\n    tier:\"1\",\n  }\n"
      "  keep   firing   for 5M\n"
      "then log\n"
      "   }\n";
  CHECK(Format(messy) ==
        "action log = log(path: \"-\", send_resolved: true)\n"
        "\n"
        "rule r {\n"
        "  when frequency > 5/min for service:x AND (level:error OR level:fatal) !has:user.id\n"
        "\n"
        "  group by environment, release\n"
        "  severity critical\n"
        "  labels { team: \"a\", tier: \"1\" }\n"
        "  keep firing for 5m\n"
        "  then log\n"
        "}\n");
}

TEST_CASE("fmt: keeps full-line and trailing comments") {
  const std::string text =
      "# header comment\n"
      "\n"
      "# about log\n"
      "action log = log()  # trailing on an action\n"
      "rule r {  # trailing on the header\n"
      "  # before when\n"
      "  when level:error   # after when\n"
      "# odd indentation\n"
      "  then log\n"
      "  # before the brace\n"
      "}  # after the brace\n"
      "# at the end\n";
  CHECK(Format(text) ==
        "# header comment\n"
        "\n"
        "# about log\n"
        "action log = log()  # trailing on an action\n"
        "\n"
        "rule r {  # trailing on the header\n"
        "  # before when\n"
        "  when level:error  # after when\n"
        "  # odd indentation\n"
        "  then log\n"
        "  # before the brace\n"
        "}  # after the brace\n"
        "\n"
        "# at the end\n");
}

TEST_CASE("fmt: comments inside a multi-line construct move above it") {
  const std::string text =
      "action hook = webhook(url: \"https://x\",  # the receiver\n"
      "  secret: env(\"S\"))  # rotated monthly\n";
  CHECK(Format(text) ==
        "# the receiver\n"
        "action hook = webhook(url: \"https://x\",\n"
        "                      secret: env(\"S\"))  # rotated monthly\n");
}

TEST_CASE("fmt: a comment hoisted out of an action ends its alignment run") {
  // Found by the fuzzer: the first pass aligned `ops` with the action above, then printed the
  // hoisted comment between them, so the second pass no longer aligned it.
  const std::string text =
      "action oncall = pagerduty(routing_key: env(\"K\"))\n"
      "action ops = jira(url: \"https://j\",  # project: \"OPS\",\n"
      "   token: env(\"T\"))\n";
  CHECK(Format(text) ==
        "action oncall = pagerduty(routing_key: env(\"K\"))\n"
        "# project: \"OPS\",\n"
        "action ops = jira(url: \"https://j\",\n"
        "                  token: env(\"T\"))\n");
}

TEST_CASE("fmt: adjacent actions align their `=`; line breaks in arguments are kept") {
  const std::string text =
      "action a = log()\n"
      "action long-name = jira(url: \"https://j\", project: \"OPS\",\n"
      "   issue_type: \"Bug\", token: env(\"T\"))\n"
      "\n"
      "action b = log()\n";
  CHECK(Format(text) ==
        "action a         = log()\n"
        "action long-name = jira(url: \"https://j\", project: \"OPS\",\n"
        "                        issue_type: \"Bug\", token: env(\"T\"))\n"
        "\n"
        "action b = log()\n");
}

TEST_CASE("fmt: every construct survives a round trip") {
  const std::string text =
      "action log = log(path: \"/tmp/k.log\", send_resolved: false)\n"
      "\n"
      "rule all {\n"
      "  when ratio(level:[error, \"fatal\"], service:payments-*) >= 5.5% in 15m\n"
      "  group by tags[a.b], contexts.os.name\n"
      "  severity warning\n"
      "  summary \"{{value}}% \\\"quoted\\\" {{group.tags[a.b]}}\"\n"
      "  description \"line\\nbreak\"\n"
      "  pending 2m\n"
      "  keep firing for 5m\n"
      "  repeat every 30m\n"
      "  labels {}\n"
      "  enabled false\n"
      "  then log\n"
      "}\n"
      "\n"
      "rule b {\n"
      "  when frequency in 1h > 150% of 1d ago for NOT x:<=3 OR has:y\n"
      "}\n"
      "\n"
      "rule c {\n"
      "  when unique(user.id) > 50/h for transaction:/api/0/orders/\n"
      "}\n"
      "\n"
      "rule d {\n"
      "  when new(release) for level:fatal\n"
      "}\n";
  CHECK(Format(text) == text);
}

TEST_CASE("fmt: refuses files that do not parse, with the check diagnostics") {
  auto r = klaxon::rules_dsl::FormatRules("rule r {\n  when frequency > 5\n}\n", "bad.rules");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message() ==
        "bad.rules:2:21: error: expected a window such as `/min` or `in 10m`\n"
        "    when frequency > 5\n"
        "                      ^\n");
  // Checker errors (unknown actions, ...) do not stop formatting.
  CHECK(klaxon::rules_dsl::FormatRules("rule r {\n  when level:x\n  then nowhere\n}\n", "x").ok());
  CHECK(Format("") == "");
  CHECK(Format("# only a comment") == "# only a comment\n");
}
