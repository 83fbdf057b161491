#include "importer/lucene_query.h"

#include <doctest/doctest.h>

#include "importer/filter_expr.h"

namespace {

using klaxon::importer::FilterExpr;
using klaxon::importer::ParseLuceneQuery;
using klaxon::importer::RenderFilter;

std::string Lucene(std::string_view q, bool default_and = false) {
  auto f = ParseLuceneQuery(q, default_and);
  return f.ok() ? RenderFilter(*f) : "error: " + f.status().message();
}

}  // namespace

TEST_CASE("query_string: terms, operators and the default operator") {
  CHECK(Lucene("level:error") == "level:error");
  CHECK(Lucene("level:error AND service:orders") == "level:error AND service:orders");
  CHECK(Lucene("level:error service:orders") == "level:error OR service:orders");
  CHECK(Lucene("level:error service:orders", true) == "level:error AND service:orders");
  CHECK(Lucene("a:1 || b:2 && c:3") == "a:1 OR b:2 AND c:3");
  CHECK(Lucene("(a:1 OR b:2) AND c:3") == "(a:1 OR b:2) AND c:3");
  CHECK(Lucene("a:1 -b:2") == "a:1 AND NOT b:2");
  CHECK(Lucene("a:1 NOT b:2") == "a:1 AND NOT b:2");
  CHECK(Lucene("NOT (a:1 OR a:2)") == "NOT a:[1, 2]");
  CHECK(Lucene("level:(fatal OR error)") == "level:[fatal, error]");
  CHECK(Lucene("service.keyword:orders-*") == "service:orders-*");
  CHECK(Lucene("message:\"connection reset\"") == "message:\"connection reset\"");
  CHECK(Lucene("_exists_:user.id") == "has:user.id");
  CHECK(Lucene("latency:[100 TO 200}") == "latency:>=100 AND latency:<200");
  CHECK(Lucene("latency:>=250") == "latency:>=250");
  CHECK(Lucene("path:\\/api\\/v1") == "path:/api/v1");
  CHECK(Lucene("level:error^2") == "level:error");
}

TEST_CASE("query_string: what has no equivalent is an error, not a wider filter") {
  CHECK(Lucene("timeout").starts_with("error: "));
  CHECK(Lucene("message:conection~2").find("fuzzy") != std::string::npos);
  CHECK(Lucene("name:jo?n").find("`?`") != std::string::npos);
  CHECK(Lucene("name:/jo.n/").find("regular") != std::string::npos);
  CHECK(Lucene("date:[now-1d TO now]").find("numbers") != std::string::npos);
  CHECK(Lucene("(a:1").find("`)`") != std::string::npos);
  CHECK(Lucene(std::string(200, '(') + "a:1" + std::string(200, ')')).find("64") !=
        std::string::npos);
}

TEST_CASE("filters render with the fewest parentheses and safe values") {
  FilterExpr f = FilterExpr::And(
      {FilterExpr::Or({FilterExpr::Match("a", {"1"}), FilterExpr::Match("b", {"x y"})}),
       FilterExpr::Not(FilterExpr::Has("sentry:user")), FilterExpr::All()});
  CHECK(RenderFilter(f) == "(a:1 OR b:\"x y\") AND NOT has:tags[sentry:user]");
  CHECK(RenderFilter(FilterExpr::Or({FilterExpr::All(), FilterExpr::Match("a", {"1"})})) == "");
  CHECK(klaxon::importer::RenderValue("a\"b") == "\"a\\\"b\"");
  CHECK(klaxon::importer::RenderValue(">5") == "\">5\"");
  CHECK(klaxon::importer::RenderValue("f(x)") == "\"f(x)\"");
}
