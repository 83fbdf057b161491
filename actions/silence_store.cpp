#include "actions/silence_store.h"

#include <sqlite3.h>

#include <nlohmann/json.hpp>

namespace klaxon::actions {

namespace {

// Finalizes on every path.
struct Statement {
  sqlite3_stmt* s = nullptr;
  ~Statement() { sqlite3_finalize(s); }
};

void BindText(sqlite3_stmt* s, int i, const std::string& v) {
  sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
}

std::string ColumnText(sqlite3_stmt* s, int i) {
  const unsigned char* p = sqlite3_column_text(s, i);
  return p == nullptr ? std::string()
                      : std::string(reinterpret_cast<const char*>(p),
                                    static_cast<size_t>(sqlite3_column_bytes(s, i)));
}

std::string MatchersJson(const std::vector<SilenceMatcher>& matchers) {
  nlohmann::json j = nlohmann::json::array();
  for (const SilenceMatcher& m : matchers) {
    j.push_back({{"name", m.name}, {"op", MatcherOpText(m.op)}, {"value", m.value}});
  }
  return j.dump();
}

Result<std::vector<SilenceMatcher>> ParseMatchersJson(const std::string& text) {
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_array()) return Status::InvalidArgument("matchers are not a JSON array");
  std::vector<SilenceMatcher> out;
  for (const nlohmann::json& m : j) {
    if (!m.is_object() || !m.value("name", nlohmann::json()).is_string() ||
        !m.value("op", nlohmann::json()).is_string() ||
        !m.value("value", nlohmann::json()).is_string()) {
      return Status::InvalidArgument("a matcher is not {name, op, value}");
    }
    const std::string op = m["op"].get<std::string>();
    SilenceMatcher::Op parsed;
    if (op == "=") {
      parsed = SilenceMatcher::Op::kEqual;
    } else if (op == "!=") {
      parsed = SilenceMatcher::Op::kNotEqual;
    } else if (op == "=~") {
      parsed = SilenceMatcher::Op::kRegex;
    } else if (op == "!~") {
      parsed = SilenceMatcher::Op::kNotRegex;
    } else {
      return Status::InvalidArgument("unknown matcher operator `" + op + "`");
    }
    Result<SilenceMatcher> made =
        MakeMatcher(m["name"].get<std::string>(), parsed, m["value"].get<std::string>());
    if (!made.ok()) return made.status();
    out.push_back(std::move(made).value());
  }
  return out;
}

}  // namespace

Result<std::unique_ptr<SilenceStore>> SilenceStore::Open(const std::string& path) {
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(
      path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db != nullptr ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return Status::IoError("silences: cannot open " + path + ": " + msg);
  }
  std::unique_ptr<SilenceStore> store(new SilenceStore(db, path));
  sqlite3_busy_timeout(db, 5000);
  if (sqlite3_db_readonly(db, "main") == 1) {
    return Status::IoError("silences: " + path + " is read-only; Klaxon must be able to write it");
  }
  if (Status s = store->Exec(
          "PRAGMA journal_mode=WAL;"
          "CREATE TABLE IF NOT EXISTS silences ("
          " id TEXT PRIMARY KEY, matchers TEXT NOT NULL, starts_at_ms INTEGER NOT NULL,"
          " ends_at_ms INTEGER NOT NULL, created_by TEXT NOT NULL, comment TEXT NOT NULL,"
          " updated_at_ms INTEGER NOT NULL);"
          "CREATE TABLE IF NOT EXISTS silenced_episodes ("
          " episode TEXT PRIMARY KEY, labels TEXT NOT NULL, items TEXT NOT NULL,"
          " held_at_ms INTEGER NOT NULL);");
      !s.ok()) {
    return Status::IoError("silences: " + path + " cannot be used: " + s.message());
  }
  return store;
}

SilenceStore::~SilenceStore() { sqlite3_close(db_); }

Status SilenceStore::Exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err != nullptr ? err : "unknown error";
    sqlite3_free(err);
    return Status::IoError(msg);
  }
  return Status::Ok();
}

Status SilenceStore::Error(const std::string& what) const {
  return Status::IoError("silences: " + path_ + ": " + what + ": " + sqlite3_errmsg(db_));
}

Result<std::vector<Silence>> SilenceStore::LoadSilences() {
  Statement st;
  if (sqlite3_prepare_v2(db_,
                         "SELECT id, matchers, starts_at_ms, ends_at_ms, created_by, comment,"
                         " updated_at_ms FROM silences ORDER BY starts_at_ms, id",
                         -1, &st.s, nullptr) != SQLITE_OK) {
    return Error("cannot read silences");
  }
  std::vector<Silence> out;
  int rc;
  while ((rc = sqlite3_step(st.s)) == SQLITE_ROW) {
    Silence s;
    s.id = ColumnText(st.s, 0);
    Result<std::vector<SilenceMatcher>> matchers = ParseMatchersJson(ColumnText(st.s, 1));
    if (!matchers.ok()) {
      return Status::InvalidArgument("silences: " + path_ + ": silence " + s.id + ": " +
                                     matchers.status().message());
    }
    s.matchers = std::move(matchers).value();
    s.starts_at_ms = sqlite3_column_int64(st.s, 2);
    s.ends_at_ms = sqlite3_column_int64(st.s, 3);
    s.created_by = ColumnText(st.s, 4);
    s.comment = ColumnText(st.s, 5);
    s.updated_at_ms = sqlite3_column_int64(st.s, 6);
    out.push_back(std::move(s));
  }
  if (rc != SQLITE_DONE) return Error("cannot read silences");
  return out;
}

Status SilenceStore::SaveSilence(const Silence& s) {
  Statement st;
  if (sqlite3_prepare_v2(db_,
                         "INSERT OR REPLACE INTO silences (id, matchers, starts_at_ms, ends_at_ms,"
                         " created_by, comment, updated_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
                         -1, &st.s, nullptr) != SQLITE_OK) {
    return Error("cannot store silence");
  }
  BindText(st.s, 1, s.id);
  BindText(st.s, 2, MatchersJson(s.matchers));
  sqlite3_bind_int64(st.s, 3, s.starts_at_ms);
  sqlite3_bind_int64(st.s, 4, s.ends_at_ms);
  BindText(st.s, 5, s.created_by);
  BindText(st.s, 6, s.comment);
  sqlite3_bind_int64(st.s, 7, s.updated_at_ms);
  if (sqlite3_step(st.s) != SQLITE_DONE) return Error("cannot store silence " + s.id);
  return Status::Ok();
}

Status SilenceStore::PruneExpired(int64_t now_ms) {
  Statement st;
  if (sqlite3_prepare_v2(db_, "DELETE FROM silences WHERE ends_at_ms < ?", -1, &st.s, nullptr) !=
      SQLITE_OK) {
    return Error("cannot prune silences");
  }
  sqlite3_bind_int64(st.s, 1, now_ms - kRetentionMs);
  if (sqlite3_step(st.s) != SQLITE_DONE) return Error("cannot prune silences");
  return Status::Ok();
}

Result<std::vector<HeldEpisode>> SilenceStore::LoadHeld() {
  Statement st;
  if (sqlite3_prepare_v2(db_,
                         "SELECT episode, labels, items, held_at_ms FROM silenced_episodes"
                         " ORDER BY held_at_ms, episode",
                         -1, &st.s, nullptr) != SQLITE_OK) {
    return Error("cannot read silenced episodes");
  }
  std::vector<HeldEpisode> out;
  int rc;
  while ((rc = sqlite3_step(st.s)) == SQLITE_ROW) {
    HeldEpisode e;
    e.key = ColumnText(st.s, 0);
    const nlohmann::json labels = nlohmann::json::parse(ColumnText(st.s, 1), nullptr, false);
    const nlohmann::json items = nlohmann::json::parse(ColumnText(st.s, 2), nullptr, false);
    if (!labels.is_array() || !items.is_array()) {
      return Status::InvalidArgument("silences: " + path_ + ": silenced episode " + e.key +
                                     " is not readable");
    }
    for (const nlohmann::json& l : labels) {
      if (!l.is_array() || l.size() != 2 || !l[0].is_string() || !l[1].is_string()) {
        return Status::InvalidArgument("silences: " + path_ + ": silenced episode " + e.key +
                                       " has a malformed label");
      }
      e.labels.emplace_back(l[0].get<std::string>(), l[1].get<std::string>());
    }
    for (const nlohmann::json& i : items) {
      if (!i.is_object()) {
        return Status::InvalidArgument("silences: " + path_ + ": silenced episode " + e.key +
                                       " has a malformed notification");
      }
      Prepared p;
      p.action = i.value("action", "");
      p.idempotency_key = i.value("idempotency_key", "");
      p.order_key = i.value("order_key", "");
      p.state = i.value("state", "");
      p.payload = i.value("payload", "");
      e.items.push_back(std::move(p));
    }
    e.held_at_ms = sqlite3_column_int64(st.s, 3);
    out.push_back(std::move(e));
  }
  if (rc != SQLITE_DONE) return Error("cannot read silenced episodes");
  return out;
}

Status SilenceStore::SaveHeld(const HeldEpisode& e) {
  nlohmann::json labels = nlohmann::json::array();
  for (const auto& [n, v] : e.labels) labels.push_back({n, v});
  nlohmann::json items = nlohmann::json::array();
  for (const Prepared& p : e.items) {
    items.push_back({{"action", p.action},
                     {"idempotency_key", p.idempotency_key},
                     {"order_key", p.order_key},
                     {"state", p.state},
                     {"payload", p.payload}});
  }
  Statement st;
  if (sqlite3_prepare_v2(db_,
                         "INSERT OR REPLACE INTO silenced_episodes (episode, labels, items,"
                         " held_at_ms) VALUES (?, ?, ?, ?)",
                         -1, &st.s, nullptr) != SQLITE_OK) {
    return Error("cannot store silenced episode");
  }
  BindText(st.s, 1, e.key);
  // Payloads are the outbox's; invalid UTF-8 in them is replaced rather than refused.
  BindText(st.s, 2, labels.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  BindText(st.s, 3, items.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  sqlite3_bind_int64(st.s, 4, e.held_at_ms);
  if (sqlite3_step(st.s) != SQLITE_DONE) return Error("cannot store silenced episode");
  return Status::Ok();
}

Status SilenceStore::RemoveHeld(const std::string& key) {
  Statement st;
  if (sqlite3_prepare_v2(db_, "DELETE FROM silenced_episodes WHERE episode = ?", -1, &st.s,
                         nullptr) != SQLITE_OK) {
    return Error("cannot remove silenced episode");
  }
  BindText(st.s, 1, key);
  if (sqlite3_step(st.s) != SQLITE_DONE) return Error("cannot remove silenced episode");
  return Status::Ok();
}

}  // namespace klaxon::actions
