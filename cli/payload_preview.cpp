#include "cli/payload_preview.h"

#include <sstream>

namespace klaxon::cli {

Result<std::unique_ptr<PayloadPreviewer>> PayloadPreviewer::Create(const RuleSet& rules) {
  std::unique_ptr<PayloadPreviewer> p(new PayloadPreviewer(rules));
  // Stand-ins: previews mask every secret, so their values never matter or show.
  actions::SecretResolver stand_in = [](const ActionValue& v) -> Result<std::string> {
    return "preview-secret-" + v.text + "-000000000000000000000000";
  };
  std::ostringstream discard;
  actions::ActionOptions options;
  options.log_stream = &discard;
  for (const ActionDef& def : rules.actions) {
    Result<std::unique_ptr<actions::Action>> a = actions::CreateAction(def, stand_in, options);
    if (!a.ok()) return Status::InvalidArgument("action " + def.name + ": " + a.status().message());
    p->actions_[def.name] = std::move(a).value();
  }
  return p;
}

nlohmann::ordered_json PayloadPreviewer::Preview(const Notification& n) const {
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  const Rule& rule = rules_.rules[n.rule_index];
  for (const std::string& name : rule.actions) {
    auto it = actions_.find(name);
    if (it == actions_.end()) continue;
    Result<std::vector<actions::HttpRequest>> requests =
        actions::PreviewRequests(*it->second, n, rule, n.at_ms);
    if (!requests.ok()) {
      list.push_back({{"action", name}, {"error", requests.status().message()}});
      continue;
    }
    for (const actions::HttpRequest& r : *requests) {
      nlohmann::ordered_json headers = nlohmann::ordered_json::object();
      for (const auto& [k, v] : r.headers) headers[k] = v;
      nlohmann::ordered_json body = nlohmann::ordered_json::parse(r.body, nullptr, false);
      if (body.is_discarded()) body = r.body;
      list.push_back({{"action", name},
                      {"method", r.method},
                      {"url", r.url},
                      {"headers", headers},
                      {"body", body}});
    }
  }
  return list;
}

std::string PayloadPreviewer::PreviewText(const Notification& n) const {
  std::string out;
  const Rule& rule = rules_.rules[n.rule_index];
  for (const std::string& name : rule.actions) {
    auto it = actions_.find(name);
    if (it == actions_.end()) continue;
    Result<std::vector<actions::HttpRequest>> requests =
        actions::PreviewRequests(*it->second, n, rule, n.at_ms);
    if (!requests.ok()) {
      out += "    [" + name + "] error: " + requests.status().message() + "\n";
      continue;
    }
    for (const actions::HttpRequest& r : *requests) {
      out += "    [" + name + "] ";
      std::string formatted = actions::FormatRequest(r);
      for (size_t i = 0; i < formatted.size(); ++i) {
        out.push_back(formatted[i]);
        if (formatted[i] == '\n' && i + 1 < formatted.size()) out += "      ";
      }
      if (out.back() != '\n') out.push_back('\n');
    }
  }
  return out;
}

}  // namespace klaxon::cli
