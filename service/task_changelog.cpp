#include "service/task_changelog.h"

#include <algorithm>

#include "engine/hash.h"
#include "engine/state_codec.h"

namespace klaxon::service {

namespace {

constexpr char kTask = 'T';
constexpr char kHead = 'H';
constexpr char kRow = 'R';
constexpr char kChunk = 'C';
constexpr uint8_t kManifest = 0xC1;  // a value's first byte: chunked (not a format version)

std::string ChunkKey(std::string_view key, uint64_t index) {
  std::string out(1, kChunk);
  StateWriter w(out);
  w.Var(key.size());
  out.append(key);
  w.Var(index);
  return out;
}

Status Corrupt(std::string_view key, std::string_view what) {
  std::string printable;
  for (char c : key.substr(0, 64)) printable.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  return Status::InvalidArgument("changelog record '" + printable + "': " + std::string(what));
}

}  // namespace

std::string TaskHeadKey() { return std::string(1, kTask); }

std::string EngineHeadKey(std::string_view rule_id) {
  std::string key(1, kHead);
  key.append(rule_id);
  return key;
}

std::string RowKey(std::string_view rule_id, uint32_t slot) {
  std::string key(1, kRow);
  StateWriter w(key);
  w.Var(rule_id.size());
  key.append(rule_id);
  w.Var(slot);
  return key;
}

void EncodeTaskHead(const TaskHead& head, std::string& out) {
  out.clear();
  StateWriter w(out);
  w.U8(kChangelogVersion);
  w.I64(head.next_offset);
  w.I64(head.advanced_to);
  w.I64(head.newest);
  w.Str(head.shuffle_time);
}

void EncodeEngineHead(uint64_t generation, std::string_view head, std::string& out) {
  out.clear();
  StateWriter w(out);
  w.U8(kChangelogVersion);
  w.Var(generation);
  w.Str(head);
}

void EncodeRow(uint64_t generation, uint64_t rank, std::string_view bytes, std::string& out) {
  out.clear();
  StateWriter w(out);
  w.U8(kChangelogVersion);
  w.Var(generation);
  w.Var(rank);
  w.Str(bytes);
}

Status EmitChangelogValue(std::string_view key, std::string_view value, size_t max_bytes,
                          const std::function<Status(std::string_view, std::string_view)>& emit) {
  if (value.size() <= max_bytes) return emit(key, value);
  uint64_t count = 0;
  for (size_t at = 0; at < value.size(); at += max_bytes, ++count) {
    if (Status st = emit(ChunkKey(key, count), value.substr(at, max_bytes)); !st.ok()) return st;
  }
  std::string manifest;
  StateWriter w(manifest);
  w.U8(kManifest);
  w.Var(count);
  w.Var(value.size());
  w.U64(Fnv1a64(value));
  return emit(key, manifest);
}

void ChangelogCollector::Add(std::string_view key, std::optional<std::string_view> value) {
  auto it = latest_.find(key);
  if (!value) {
    if (it != latest_.end()) {
      bytes_ -= it->first.size() + it->second.size();
      latest_.erase(it);
    }
    return;
  }
  if (it == latest_.end()) {
    it = latest_.emplace(std::string(key), std::string()).first;
    bytes_ += key.size();
  } else {
    bytes_ -= it->second.size();
  }
  it->second.assign(*value);
  bytes_ += value->size();
}

Status ChangelogCollector::Finish(std::optional<TaskHead>& task,
                                  std::map<std::string, RestoredEngine>& engines) {
  task.reset();
  engines.clear();
  // Chunked values are put together first (and their chunks left out below).
  for (auto& [key, value] : latest_) {
    if (value.empty() || static_cast<uint8_t>(value[0]) != kManifest) continue;
    StateReader r(value);
    r.U8();
    const uint64_t count = r.Var();
    const uint64_t length = r.Var();
    const uint64_t hash = r.U64();
    if (!r.ok() || r.Left() != 0 || count > latest_.size()) return Corrupt(key, "corrupt manifest");
    std::string whole;
    for (uint64_t i = 0; i < count; ++i) {
      auto chunk = latest_.find(ChunkKey(key, i));
      if (chunk == latest_.end()) return Corrupt(key, "a chunk is missing");
      if (whole.size() + chunk->second.size() > length) return Corrupt(key, "chunks too long");
      whole.append(chunk->second);
    }
    if (whole.size() != length || Fnv1a64(whole) != hash) {
      return Corrupt(key, "chunks do not match their manifest");
    }
    value = std::move(whole);
  }
  // Heads first (keys sort 'H' < 'R' < 'T'), so each row finds its engine's generation.
  for (const auto& [key, value] : latest_) {
    if (!key.empty() && key[0] == kChunk) continue;  // part of a value put together above
    StateReader r(value);
    if (r.U8() != kChangelogVersion) {
      return Corrupt(key, r.ok() ? "written by another version of Klaxon (format " +
                                       std::to_string(static_cast<uint8_t>(value[0])) +
                                       ", this "
                                       "version reads " +
                                       std::to_string(kChangelogVersion) + ")"
                                 : "empty");
    }
    if (key.empty()) return Corrupt(key, "empty key");
    switch (key[0]) {
      case kHead: {
        RestoredEngine& e = engines[key.substr(1)];
        e.generation = r.Var();
        e.head = r.Str();
        if (!r.ok() || r.Left() != 0) return Corrupt(key, "truncated or corrupt engine head");
        break;
      }
      case kRow: {
        StateReader k(std::string_view(key).substr(1));
        const std::string_view rule_id = k.Bytes(k.Var());
        const uint64_t slot = k.Var();
        if (!k.ok() || k.Left() != 0 || slot > UINT32_MAX) return Corrupt(key, "malformed row key");
        const uint64_t generation = r.Var();
        const uint64_t rank = r.Var();
        const std::string_view bytes = r.Str();
        if (!r.ok() || r.Left() != 0 || bytes.empty() || rank == 0) {
          return Corrupt(key, "truncated or corrupt row");
        }
        auto e = engines.find(std::string(rule_id));
        // A row of an engine without a head, or of an older generation: a group that died
        // before the engine last saved every group; not part of the state.
        if (e == engines.end() || e->second.generation != generation) continue;
        e->second.rows.push_back({0, static_cast<uint32_t>(slot), rank, bytes});
        e->second.last_rank = std::max(e->second.last_rank, rank);
        break;
      }
      case kTask: {
        TaskHead head;
        head.next_offset = r.I64();
        head.advanced_to = r.I64();
        head.newest = r.I64();
        head.shuffle_time = std::string(r.Str());
        if (!r.ok() || r.Left() != 0 || key.size() != 1) {
          return Corrupt(key, "truncated or corrupt task head");
        }
        task = std::move(head);
        break;
      }
      default:
        return Corrupt(key, "unknown key");
    }
  }
  return Status::Ok();
}

}  // namespace klaxon::service
