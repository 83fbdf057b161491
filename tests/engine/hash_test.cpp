#include "engine/hash.h"

#include <doctest/doctest.h>

#include <string>

#include "engine/state_codec.h"

namespace klaxon {
namespace {

TEST_CASE("Fnv1a64 keeps the values rule ids were always computed with") {
  static_assert(Fnv1a64("") == 0x14650fb0739d0383ull);
  CHECK(Fnv1a64("a") == 0x44bd8ad473cd9906ull);
  CHECK(Fnv1a64("foobar") == 0x88fad7c0a8ff07f2ull);
}

TEST_CASE("Fnv1a64Extend continues a hash over more bytes") {
  static_assert(Fnv1a64Extend(Fnv1a64("foo"), "bar") == Fnv1a64("foobar"));
  CHECK(Fnv1a64Extend(Fnv1a64(""), "") == Fnv1a64(""));
  CHECK(Fnv1a64Extend(Fnv1a64("a"), "b") != Fnv1a64Extend(Fnv1a64("b"), "a"));
}

TEST_CASE("WideChecksum64 is stable and sees every flipped bit, in the words and the tail") {
  // Stored in state store files: these values must not change.
  CHECK(WideChecksum64("") == 0x83803c70c6eaa61full);
  CHECK(WideChecksum64("foobar") == 0x44046e5fc599bd53ull);
  std::string s;
  for (int i = 0; i < 100; ++i) s.push_back(static_cast<char>(i * 37));
  CHECK(WideChecksum64(s) == 0xef23a15472050877ull);
  const uint64_t sum = WideChecksum64(s);
  for (size_t byte = 0; byte < s.size(); ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string flipped = s;
      flipped[byte] = static_cast<char>(flipped[byte] ^ (1 << bit));
      CHECK(WideChecksum64(flipped) != sum);
    }
  }
  CHECK(WideChecksum64(s + '\0') != sum);  // the length counts
  CHECK(WideChecksum64(std::string_view(s).substr(0, 64)) != WideChecksum64(s.substr(0, 65)));
}

TEST_CASE("state codec: varints round-trip and a cut or overlong one fails the reader") {
  const uint64_t values[] = {0, 1, 127, 128, 300, 16383, 16384, uint64_t{1} << 32, ~uint64_t{0}};
  std::string out;
  StateWriter w(out);
  for (uint64_t v : values) w.Var(v);
  CHECK(out.size() == 1 + 1 + 1 + 2 + 2 + 2 + 3 + 5 + 10);
  StateReader r(out);
  for (uint64_t v : values) CHECK(r.Var() == v);
  CHECK(r.ok());
  CHECK(r.Left() == 0);
  StateReader cut(std::string_view(out).substr(0, out.size() - 1));
  for (size_t i = 0; i + 1 < std::size(values); ++i) cut.Var();
  CHECK(cut.Var() == 0);
  CHECK_FALSE(cut.ok());
  const std::string overlong(11, '\x80');
  StateReader bad(overlong);
  bad.Var();
  CHECK_FALSE(bad.ok());
}

}  // namespace
}  // namespace klaxon
