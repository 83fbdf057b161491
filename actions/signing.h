// Hashes and signatures used by actions: idempotency keys, Standard Webhooks and Sentry-style
// HMAC signatures. Pure functions over OpenSSL; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "engine/status.h"

namespace klaxon::actions {

std::string Sha256Hex(std::string_view data);                         // lowercase hex
std::string HmacSha256(std::string_view key, std::string_view data);  // raw 32 bytes
std::string HexEncode(std::string_view bytes);                        // lowercase
std::string Base64Encode(std::string_view bytes);
Result<std::string> Base64Decode(std::string_view text);

// Standard Webhooks 1.0: "v1,<base64 HMAC-SHA256 of id.timestamp.body>" per secret, joined by
// spaces (key rotation). A secret written `whsec_<base64>` is keyed by the decoded bytes; any
// other secret by its raw bytes. Errors never quote the secret.
Result<std::string> StandardWebhookSignature(const std::vector<std::string>& secrets,
                                             std::string_view msg_id, int64_t timestamp_s,
                                             std::string_view body);

// Sentry integration platform: lowercase hex HMAC-SHA256 of the exact body bytes.
std::string SentryHookSignature(std::string_view client_secret, std::string_view body);

}  // namespace klaxon::actions
