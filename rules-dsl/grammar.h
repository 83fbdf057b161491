// The PEGTL grammar of Klaxon rule files. Private to rules-dsl: only parser.cpp includes it.
//
// EBNF (keywords are case-insensitive; `sp` is blanks, `ws` also newlines and comments):
//
//   file        = { ws , item } , ws ;
//   item        = rule | action ;
//   action      = "action" name "=" name "(" [ arg { "," arg } [ "," ] ] ")" EOL ;   (ws inside)
//   arg         = name ":" value ;
//   value       = string | "env(" string ")" | "file(" string ")" | "true" | "false"
//               | duration | number | "[" [ value { "," value } ] "]" ;
//   rule        = "rule" name "{" EOL { clause EOL | EOL } "}" EOL ;
//   clause      = "when" ( condition [ "for" filter ] | filter )
//               | "group" "by" key { "," key }
//               | "severity" name | "summary" string | "description" string
//               | "pending" duration | "keep" "firing" "for" duration
//               | "repeat" "every" duration | "labels" "{" [ name ":" string { "," ... } ] "}"
//               | "enabled" name | "then" name { "," name } ;
//   condition   = "frequency" cmp threshold window
//               | "frequency" "in" duration cmp threshold "of" duration "ago"
//               | "unique" "(" key ")" cmp threshold window
//               | "ratio" "(" filter "," filter ")" cmp threshold window
//               | "new" "(" [ key ] ")" ;
//   window      = "/" [ digits ] unit | "in" duration ;
//   threshold   = number [ "%" ] ;          duration = digits unit ;     unit = letters ;
//   cmp         = ">" | ">=" | "<" | "<=" ;
//   filter      = and_expr { "OR" and_expr } ;
//   and_expr    = unary { [ "AND" ] unary } ;              (side by side means AND)
//   unary       = ( "NOT" | "!" ) primary | primary ;
//   primary     = "(" filter ")" | "has:" key | key ":" ( cmp number | "[" value { "," value } "]"
//               | value ) ;
//   key         = "tags[" chars "]" | letter { letter | digit | "_" | "-" | "." } ;
//   value       = string | bare ;        bare = chars up to blank , ) ] ( [ # "
//
// Every point after which the input can only be one thing is a must<>; its message is in
// parser.cpp (kErrors). The grammar has no ambiguous prefixes, so there is no exponential
// backtracking; parenthesis depth is bounded by a scan before parsing.
#pragma once

#include <tao/pegtl.hpp>

namespace klaxon::rules_dsl::grammar {

using namespace tao::pegtl;  // NOLINT: grammar DSL

struct comment : seq<one<'#'>, star<not_one<'\n'>>> {};
struct sp : star<blank> {};
struct sp1 : plus<blank> {};
struct ws : star<sor<blank, eol, comment>> {};
struct line_end : seq<sp, opt<comment>, sor<eol, eof>> {};
struct clause_end : line_end {};

struct ident_other : sor<ranges<'a', 'z', 'A', 'Z', '0', '9'>, one<'_', '-'>> {};
struct name : seq<ranges<'a', 'z', 'A', 'Z', '_'>, star<ident_other>> {};
template <typename Str>
struct kw : seq<Str, not_at<ident_other>> {};

struct kw_rule : kw<TAO_PEGTL_ISTRING("rule")> {};
struct kw_action : kw<TAO_PEGTL_ISTRING("action")> {};
struct kw_when : kw<TAO_PEGTL_ISTRING("when")> {};
struct kw_for : kw<TAO_PEGTL_ISTRING("for")> {};
struct kw_group : kw<TAO_PEGTL_ISTRING("group")> {};
struct kw_by : kw<TAO_PEGTL_ISTRING("by")> {};
struct kw_severity : kw<TAO_PEGTL_ISTRING("severity")> {};
struct kw_summary : kw<TAO_PEGTL_ISTRING("summary")> {};
struct kw_description : kw<TAO_PEGTL_ISTRING("description")> {};
struct kw_pending : kw<TAO_PEGTL_ISTRING("pending")> {};
struct kw_keep : kw<TAO_PEGTL_ISTRING("keep")> {};
struct kw_firing : kw<TAO_PEGTL_ISTRING("firing")> {};
struct kw_repeat : kw<TAO_PEGTL_ISTRING("repeat")> {};
struct kw_every : kw<TAO_PEGTL_ISTRING("every")> {};
struct kw_labels : kw<TAO_PEGTL_ISTRING("labels")> {};
struct kw_enabled : kw<TAO_PEGTL_ISTRING("enabled")> {};
struct kw_then : kw<TAO_PEGTL_ISTRING("then")> {};
struct kw_frequency : kw<TAO_PEGTL_ISTRING("frequency")> {};
struct kw_unique : kw<TAO_PEGTL_ISTRING("unique")> {};
struct kw_ratio : kw<TAO_PEGTL_ISTRING("ratio")> {};
struct kw_new : kw<TAO_PEGTL_ISTRING("new")> {};
struct kw_in : kw<TAO_PEGTL_ISTRING("in")> {};
struct kw_of : kw<TAO_PEGTL_ISTRING("of")> {};
struct kw_ago : kw<TAO_PEGTL_ISTRING("ago")> {};
struct kw_and : kw<TAO_PEGTL_ISTRING("and")> {};
struct kw_or : kw<TAO_PEGTL_ISTRING("or")> {};
struct kw_not : kw<TAO_PEGTL_ISTRING("not")> {};
struct kw_has : kw<TAO_PEGTL_ISTRING("has")> {};
struct kw_env : kw<TAO_PEGTL_ISTRING("env")> {};
struct kw_file : kw<TAO_PEGTL_ISTRING("file")> {};
struct kw_true : kw<TAO_PEGTL_ISTRING("true")> {};
struct kw_false : kw<TAO_PEGTL_ISTRING("false")> {};

struct colon : one<':'> {};
struct comma : one<','> {};
struct equals : one<'='> {};
struct open_paren : one<'('> {};
struct close_paren : one<')'> {};
struct close_bracket : one<']'> {};
struct open_brace : one<'{'> {};
struct close_brace : one<'}'> {};

// Strings: "..." with \" \\ \n \t \r escapes, on one line.
struct escape_char : one<'"', '\\', 'n', 't', 'r'> {};
struct string_char : sor<seq<one<'\\'>, must<escape_char>>, not_one<'"', '\\', '\n', '\r'>> {};
struct close_quote : one<'"'> {};
struct quoted : seq<one<'"'>, star<string_char>, must<close_quote>> {};

struct digits : plus<digit> {};
struct number : seq<opt<one<'-'>>, digits, opt<one<'.'>, digits>> {};
struct amount : digits {};
struct unit : plus<alpha> {};
struct duration : seq<amount, unit> {};

// Keys.
struct tag_key
    : seq<TAO_PEGTL_STRING("tags["), plus<not_one<']', '\n', '\r', '#', '"'>>, one<']'>> {};
struct plain_key : seq<ranges<'a', 'z', 'A', 'Z', '_'>, star<sor<ident_other, one<'.'>>>> {};
struct key : sor<tag_key, plain_key> {};
struct has_key : key {};

// Filters.
struct bare : plus<not_one<' ', '\t', '\r', '\n', ',', ')', ']', '(', '[', '#', '"'>> {};
struct filter_value : sor<quoted, bare> {};
struct value_list : seq<one<'['>, sp, must<filter_value>, star<sp, comma, sp, must<filter_value>>,
                        sp, must<close_bracket>> {};
struct compare_op : sor<TAO_PEGTL_STRING(">="), TAO_PEGTL_STRING("<="), one<'>'>, one<'<'>> {};
struct compare_number : number {};
struct compare_rhs : seq<compare_op, sp, must<compare_number>> {};
struct match_rhs : sor<compare_rhs, value_list, filter_value> {};
struct key_colon : colon {};
struct match_term : seq<key, must<key_colon>, must<match_rhs>> {};
struct has_term : seq<kw_has, colon, must<has_key>> {};

struct or_expr;
struct paren_expr : seq<open_paren, sp, must<or_expr>, sp, must<close_paren>> {};
struct primary : sor<paren_expr, has_term, match_term> {};
struct not_kw : kw_not {};
struct bang : one<'!'> {};
struct not_operand : primary {};
struct not_expr : seq<sor<seq<not_kw, sp>, bang>, must<not_operand>> {};
struct unary : sor<not_expr, primary> {};
struct and_operand : unary {};
struct and_expr : seq<unary, star<sor<seq<sp1, kw_and, sp, must<and_operand>>,
                                      seq<sp1, not_at<kw_or>, not_at<kw_for>, unary>>>> {};
struct or_operand : and_expr {};
struct or_expr : seq<and_expr, star<sp1, kw_or, sp, must<or_operand>>> {};
struct for_filter : or_expr {};
struct filter_only : or_expr {};
struct ratio_filter : or_expr {};

// Conditions.
struct cmp_op : compare_op {};
struct percent : one<'%'> {};
struct threshold : seq<number, opt<percent>> {};
struct per_window : seq<one<'/'>, opt<amount>, must<unit>> {};
struct in_window : seq<kw_in, sp, must<duration>> {};
struct window : sor<per_window, in_window> {};
struct change_offset : duration {};
struct change_cond : seq<kw_in, sp, must<duration>, sp, must<cmp_op>, sp, must<threshold>, sp,
                         must<kw_of>, sp, must<change_offset>, sp, must<kw_ago>> {};
struct count_cond : seq<must<cmp_op>, sp, must<threshold>, sp, must<window>> {};
struct frequency_cond : seq<kw_frequency, not_at<colon>, sp, sor<change_cond, count_cond>> {};
struct unique_field : key {};
struct unique_cond
    : seq<kw_unique, not_at<colon>, sp, must<open_paren>, sp, must<unique_field>, sp,
          must<close_paren>, sp, must<cmp_op>, sp, must<threshold>, sp, must<window>> {};
struct ratio_comma : comma {};
struct ratio_cond : seq<kw_ratio, not_at<colon>, sp, must<open_paren>, sp, must<ratio_filter>, sp,
                        must<ratio_comma>, sp, must<ratio_filter>, sp, must<close_paren>, sp,
                        must<cmp_op>, sp, must<threshold>, sp, must<window>> {};
struct new_field : key {};
struct new_cond
    : seq<kw_new, not_at<colon>, sp, must<open_paren>, sp, opt<new_field>, sp, must<close_paren>> {
};
struct condition : sor<frequency_cond, unique_cond, ratio_cond, new_cond> {};
struct when_body : sor<seq<condition, opt<sp1, kw_for, sp, must<for_filter>>>, filter_only> {};

// Clauses.
struct when_end : line_end {};
struct when_clause : seq<kw_when, sp, must<when_body>, must<when_end>> {};
struct group_field : key {};
struct group_clause : seq<kw_group, sp, must<kw_by>, sp, must<group_field>,
                          star<sp, comma, sp, must<group_field>>, must<clause_end>> {};
struct severity_value : name {};
struct severity_clause : seq<kw_severity, sp, must<severity_value>, must<clause_end>> {};
struct clause_string : quoted {};
struct summary_clause : seq<kw_summary, sp, must<clause_string>, must<clause_end>> {};
struct description_clause : seq<kw_description, sp, must<clause_string>, must<clause_end>> {};
struct pending_clause : seq<kw_pending, sp, must<duration>, must<clause_end>> {};
struct keep_firing_clause
    : seq<kw_keep, sp, must<kw_firing>, sp, must<kw_for>, sp, must<duration>, must<clause_end>> {};
struct repeat_clause : seq<kw_repeat, sp, must<kw_every>, sp, must<duration>, must<clause_end>> {};
struct label_key : name {};
struct label_value : quoted {};
struct label_colon : colon {};
struct label_pair : seq<label_key, sp, must<label_colon>, sp, must<label_value>> {};
struct labels_clause
    : seq<kw_labels, sp, must<open_brace>, ws,
          opt<label_pair, star<ws, comma, ws, sor<at<close_brace>, must<label_pair>>>>, ws,
          must<close_brace>, must<clause_end>> {};
struct flag_value : name {};
struct enabled_clause : seq<kw_enabled, sp, must<flag_value>, must<clause_end>> {};
struct then_action : name {};
struct then_clause : seq<kw_then, sp, must<then_action>, star<sp, comma, sp, must<then_action>>,
                         must<clause_end>> {};
struct clause_word : name {};
struct unknown_clause
    : seq<not_at<kw_rule>, not_at<kw_action>, clause_word, star<not_one<'\n'>>, line_end> {};
struct clause : sor<when_clause, group_clause, severity_clause, summary_clause, description_clause,
                    pending_clause, keep_firing_clause, repeat_clause, labels_clause,
                    enabled_clause, then_clause, unknown_clause> {};
struct blank_line : seq<sp, opt<comment>, eol> {};
struct rule_close : close_brace {};
struct rule_name : name {};
struct rule_item
    : seq<kw_rule, sp, must<rule_name>, sp, must<open_brace>, must<clause_end>,
          star<sor<blank_line, seq<sp, clause>>>, sp, must<rule_close>, must<clause_end>> {};

// Actions.
struct action_name : name {};
struct action_kind : name {};
struct arg_key : name {};
struct env_call : seq<kw_env, sp, open_paren, sp, must<quoted>, sp, must<close_paren>> {};
struct file_call : seq<kw_file, sp, open_paren, sp, must<quoted>, sp, must<close_paren>> {};
struct bool_value : sor<kw_true, kw_false> {};
struct duration_value : duration {};
struct number_value : seq<number, not_at<ident_other>> {};
struct string_value : quoted {};
struct scalar_value
    : sor<string_value, env_call, file_call, bool_value, duration_value, number_value> {};
struct list_value
    : seq<one<'['>, ws,
          opt<scalar_value, star<ws, comma, ws, sor<at<close_bracket>, must<scalar_value>>>>, ws,
          must<close_bracket>> {};
struct arg_value : sor<list_value, scalar_value> {};
struct arg_colon : colon {};
struct action_arg : seq<arg_key, sp, must<arg_colon>, ws, must<arg_value>> {};
struct close_args : close_paren {};
struct action_item
    : seq<kw_action, sp, must<action_name>, sp, must<equals>, sp, must<action_kind>, sp,
          must<open_paren>, ws,
          opt<action_arg, star<ws, comma, ws, sor<at<close_paren>, must<action_arg>>>>, ws,
          must<close_args>, must<clause_end>> {};

struct item : sor<rule_item, action_item> {};
struct top_item : must<item> {};

}  // namespace klaxon::rules_dsl::grammar
