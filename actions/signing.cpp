#include "actions/signing.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

namespace klaxon::actions {

std::string HexEncode(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return HexEncode(std::string_view(reinterpret_cast<const char*>(digest), sizeof digest));
}

std::string HmacSha256(std::string_view key, std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest, &len);
  return std::string(reinterpret_cast<const char*>(digest), len);
}

std::string Base64Encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

Result<std::string> Base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) return Status::InvalidArgument("invalid base64 length");
  std::string out(3 * text.size() / 4, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 0) return Status::InvalidArgument("invalid base64");
  // EVP_DecodeBlock counts padding bytes as output; drop them.
  size_t len = static_cast<size_t>(n);
  if (!text.empty() && text.back() == '=') --len;
  if (text.size() > 1 && text[text.size() - 2] == '=') --len;
  out.resize(len);
  return out;
}

Result<std::string> StandardWebhookSignature(const std::vector<std::string>& secrets,
                                             std::string_view msg_id, int64_t timestamp_s,
                                             std::string_view body) {
  std::string signed_content;
  signed_content.reserve(msg_id.size() + body.size() + 24);
  signed_content.append(msg_id).append(".").append(std::to_string(timestamp_s)).append(".");
  signed_content.append(body);
  std::string out;
  for (size_t i = 0; i < secrets.size(); ++i) {
    std::string_view secret = secrets[i];
    std::string key;
    if (secret.starts_with("whsec_")) {
      auto decoded = Base64Decode(secret.substr(6));
      if (!decoded.ok()) {
        return Status::InvalidArgument("webhook secret #" + std::to_string(i + 1) +
                                       " starts with whsec_ but is not valid base64");
      }
      key = std::move(decoded).value();
    } else {
      key = std::string(secret);
    }
    if (!out.empty()) out.push_back(' ');
    out += "v1," + Base64Encode(HmacSha256(key, signed_content));
  }
  return out;
}

std::string SentryHookSignature(std::string_view client_secret, std::string_view body) {
  return HexEncode(HmacSha256(client_secret, body));
}

}  // namespace klaxon::actions
