// Builds Relay's message for Sentry's ingest-events topic as Relay does (rmp_serde, named
// fields: a msgpack map; the payload as msgpack bin), for tests. Header-only test helper.
#pragma once

#include <msgpack.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace klaxon::test {

// The packer, for tests that build variants field by field.
class MsgpackWriter {
 public:
  MsgpackWriter() {
    msgpack_sbuffer_init(&buffer_);
    msgpack_packer_init(&packer_, &buffer_, msgpack_sbuffer_write);
  }
  ~MsgpackWriter() { msgpack_sbuffer_destroy(&buffer_); }
  MsgpackWriter(const MsgpackWriter&) = delete;
  MsgpackWriter& operator=(const MsgpackWriter&) = delete;

  MsgpackWriter& Map(uint32_t n) { return Ok(msgpack_pack_map(&packer_, n)); }
  MsgpackWriter& Array(uint32_t n) { return Ok(msgpack_pack_array(&packer_, n)); }
  MsgpackWriter& Str(std::string_view s) {
    Ok(msgpack_pack_str(&packer_, s.size()));
    return Ok(msgpack_pack_str_body(&packer_, s.data(), s.size()));
  }
  MsgpackWriter& Bin(std::string_view s) {
    Ok(msgpack_pack_bin(&packer_, s.size()));
    return Ok(msgpack_pack_bin_body(&packer_, s.data(), s.size()));
  }
  MsgpackWriter& Uint(uint64_t v) { return Ok(msgpack_pack_uint64(&packer_, v)); }
  MsgpackWriter& Int(int64_t v) { return Ok(msgpack_pack_int64(&packer_, v)); }
  MsgpackWriter& Nil() { return Ok(msgpack_pack_nil(&packer_)); }
  std::string Bytes() const { return std::string(buffer_.data, buffer_.size); }

 private:
  MsgpackWriter& Ok(int rc) {
    if (rc != 0) throw std::runtime_error("msgpack packing failed");
    return *this;
  }
  msgpack_sbuffer buffer_;
  msgpack_packer packer_;
};

// KafkaMessage::Event: type, then EventKafkaMessage's fields in declaration order.
inline std::string RelayEventMessage(std::string_view payload, uint64_t project_id,
                                     std::string_view event_id = "0123456789abcdef0123456789abcdef",
                                     std::string_view type = "event") {
  MsgpackWriter w;
  w.Map(7).Str("type").Str(type).Str("payload").Bin(payload);
  w.Str("start_time").Uint(1764280000).Str("event_id").Str(event_id);
  w.Str("project_id").Uint(project_id).Str("remote_addr").Str("127.0.0.1");
  w.Str("attachments").Array(0);
  return w.Bytes();
}

}  // namespace klaxon::test
