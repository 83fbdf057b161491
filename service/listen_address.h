// `admin.listen`: HOST:PORT, [IPv6]:PORT, or :PORT for every interface; port 0 to 65535 (0
// picks a free port). Parsed when the configuration is read and again by the admin server.
#pragma once

#include <string>

#include "engine/status.h"

namespace klaxon::service {

struct ListenAddress {
  std::string host;  // empty: every interface
  int port = 0;
};

Result<ListenAddress> ParseListenAddress(const std::string& text);

// The host only accepts connections from this machine (127.0.0.0/8, ::1, localhost). An
// address that does not parse counts as not loopback.
bool IsLoopbackHost(const std::string& host);
bool IsLoopbackListen(const std::string& listen);

}  // namespace klaxon::service
