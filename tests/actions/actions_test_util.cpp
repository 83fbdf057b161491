#include "tests/actions/actions_test_util.h"

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace klaxon::actions::testing {

Rule SampleRule() {
  Rule r;
  r.name = "orders-db-errors";
  r.id = "0123456789abcdef";
  r.condition.kind = Condition::Kind::kCount;
  r.condition.op = CompareOp::kGt;
  r.condition.threshold = 5;
  r.condition.window_ms = 60000;
  FieldRef service;
  service.name = "service";
  service.kind = FieldRef::Kind::kPathThenTag;
  service.tag = "service";
  r.group_by.push_back(service);
  r.severity = Severity::kCritical;
  r.summary = "{{count}} DatabaseErrors in {{window}} on {{group.service}}";
  r.description =
      "Exception {{event.exception.type}}: {{event.exception.value}}\nCulprit: {{event.culprit}} "
      "(team {{labels.team}}, env {{event.tags.environment}})";
  r.labels = {{"team", "payments"}};
  r.actions = {"ops"};
  return r;
}

std::string SampleEventJson() {
  return R"({"event_id":"9f1c2b3a4d5e6f708192a3b4c5d6e7f8","timestamp":1764041760.25,)"
         R"("platform":"python","level":"error","environment":"production",)"
         R"("message":"Query failed for card 4111 1111 1111 1111","culprit":"orders.db in save",)"
         R"("tags":[["service","orders-api"],["environment","production"],["api_key","sk_live_abc"]],)"
         R"("user":{"id":"42","email":"a@example.com","password":"hunter2"},)"
         R"("request":{"headers":{"Authorization":"Bearer abc.def","Accept":"*/*"}},)"
         R"("exception":{"values":[{"type":"ConnectionResetError","value":"peer reset"},)"
         R"({"type":"DatabaseError","value":"could not connect to server"}]},)"
         R"("extra":{"db_password":"s3cret","stripeToken":"tok_123","note":"4242-4242-4242-4242"}})";
}

Notification SampleNotification(AlertState state) {
  Notification n;
  n.at_ms = 1764041760250;
  n.rule_name = "orders-db-errors";
  n.rule_id = "0123456789abcdef";
  n.state = state;
  n.group = {std::string("orders-api")};
  n.value = 12;
  n.threshold = 5;
  n.window_ms = 60000;
  n.episode_start_ms = 1764041700000;
  n.repeat_index = state == AlertState::kFiring ? 0 : 1;
  if (state == AlertState::kRepeat) n.at_ms += 600000;
  if (state == AlertState::kResolved) {
    n.at_ms += 900000;
    n.value = 0;
  }
  n.window_start_ms = n.at_ms - 60000;
  n.window_end_ms = n.at_ms;
  n.event_json = SampleEventJson();
  return n;
}

ActionValue Str(std::string s) {
  ActionValue v;
  v.kind = ActionValue::Kind::kString;
  v.text = std::move(s);
  return v;
}

ActionValue Env(std::string name) {
  ActionValue v;
  v.kind = ActionValue::Kind::kEnv;
  v.text = std::move(name);
  return v;
}

ActionDef MakeDef(std::string name, std::string kind,
                  std::vector<std::pair<std::string, ActionValue>> args) {
  ActionDef d;
  d.name = std::move(name);
  d.kind = std::move(kind);
  d.pos = {"test.rules", 1, 1};
  for (auto& [k, v] : args) d.args.push_back({k, v, {}});
  return d;
}

SecretResolver MapResolver(std::map<std::string, std::string> values) {
  return [values = std::move(values)](const ActionValue& v) -> Result<std::string> {
    if (v.kind != ActionValue::Kind::kEnv) return Status::InvalidArgument("only env() in tests");
    auto it = values.find(v.text);
    if (it == values.end())
      return Status::NotFound("environment variable " + v.text + " is not set");
    return it->second;
  };
}

bool MatchesGolden(const std::string& name, const std::string& actual) {
  const char* root = std::getenv("KLAXON_SOURCE_DIR");
  const std::string path =
      std::string(root != nullptr ? root : ".") + "/tests/actions/golden/" + name;
  const char* update = std::getenv("KLAXON_UPDATE_GOLDEN");
  if (update != nullptr && std::string(update) == "1") {
    std::ofstream(path) << actual;
    return true;
  }
  std::ifstream in(path);
  std::stringstream expected;
  expected << in.rdbuf();
  return in && expected.str() == actual;
}

std::string ReceivedRequest::Header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? "" : it->second;
}

Receiver::Receiver(Handler handler) : handler_(std::move(handler)) {
  server_.set_keep_alive_max_count(100000);
  auto record = [this](const httplib::Request& req, httplib::Response& res) {
    ReceivedRequest r;
    r.method = req.method;
    r.path = req.target.empty() ? req.path : req.target;
    for (const auto& [k, v] : req.headers) r.headers.emplace(k, v);
    r.body = req.body;
    Handler h;
    {
      std::lock_guard lock(mu_);
      requests_.push_back(r);
      h = handler_;
    }
    if (h) {
      h(r, res);
    } else {
      res.status = 200;
      res.set_content("ok", "text/plain");
    }
  };
  server_.Get(".*", record);
  server_.Post(".*", record);
  server_.Put(".*", record);
  port_ = server_.bind_to_any_port("127.0.0.1");
  thread_ = std::thread([this] { server_.listen_after_bind(); });
  while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

Receiver::~Receiver() { Stop(); }

void Receiver::Stop() {
  server_.stop();
  if (thread_.joinable()) thread_.join();
}

void Receiver::SetHandler(Handler handler) {
  std::lock_guard lock(mu_);
  handler_ = std::move(handler);
}

std::string Receiver::Url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

std::vector<ReceivedRequest> Receiver::Requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

size_t Receiver::Count() const {
  std::lock_guard lock(mu_);
  return requests_.size();
}

bool Receiver::WaitForCount(size_t n, int timeout_ms) const {
  return WaitUntil([&] { return Count() >= n; }, timeout_ms);
}

bool WaitUntil(const std::function<bool()>& pred, int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return pred();
}

}  // namespace klaxon::actions::testing
