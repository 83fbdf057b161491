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

}  // namespace klaxon::service
