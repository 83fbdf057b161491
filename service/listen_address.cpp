#include "service/listen_address.h"

#include <charconv>

namespace klaxon::service {

Result<ListenAddress> ParseListenAddress(const std::string& text) {
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos) {
    return Status::InvalidArgument("expected HOST:PORT or :PORT, not '" + text + "'");
  }
  ListenAddress out;
  out.host = text.substr(0, colon);
  if (out.host.size() >= 2 && out.host.front() == '[' && out.host.back() == ']') {
    out.host = out.host.substr(1, out.host.size() - 2);
  } else if (out.host.find(':') != std::string::npos) {
    return Status::InvalidArgument("write an IPv6 address in brackets, e.g. [::1]:9464, not '" +
                                   text + "'");
  }
  const std::string port = text.substr(colon + 1);
  int value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || end != port.data() + port.size() ||
      (ec != std::errc() && ec != std::errc::result_out_of_range)) {
    return Status::InvalidArgument("invalid port in '" + text + "'");
  }
  if (ec == std::errc::result_out_of_range || value < 0 || value > 65535) {
    return Status::InvalidArgument("port '" + port + "' is out of range (0 to 65535)");
  }
  out.port = value;
  return out;
}

bool IsLoopbackHost(const std::string& host) {
  return host == "localhost" || host == "::1" || host == "[::1]" || host.starts_with("127.");
}

bool IsLoopbackListen(const std::string& listen) {
  Result<ListenAddress> a = ParseListenAddress(listen);
  return a.ok() && IsLoopbackHost(a->host);
}

}  // namespace klaxon::service
