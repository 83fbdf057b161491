#include "engine/hash.h"

#include <doctest/doctest.h>

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

}  // namespace
}  // namespace klaxon
