// Lucene query syntax (Elasticsearch's `query_string`) -> a Klaxon filter, for the subset that
// has an equivalent: `field:value`, `field:"phrase"`, `*` wildcards, `field:(a OR b)`,
// `field:[a TO b]` and `field:>N` on numbers, `_exists_:field`, AND / OR / NOT, `&&`, `||`,
// `!`, `+` / `-`, parentheses, and the default operator for terms side by side. Pure.
#pragma once

#include <string>
#include <string_view>

#include "engine/status.h"
#include "importer/filter_expr.h"

namespace klaxon::importer {

// Elasticsearch field names as Klaxon keys: `.keyword` / `.raw` sub-fields are the field.
std::string KlaxonKey(std::string_view es_field);

// `default_and`: Elasticsearch's default_operator AND (its default is OR). Errors name the
// byte offset in `query` and what is not supported (fuzzy `~`, regular expressions, a term
// without a field, `?` wildcards).
Result<FilterExpr> ParseLuceneQuery(std::string_view query, bool default_and);

}  // namespace klaxon::importer
