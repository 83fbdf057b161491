#include "engine/hash.h"

#include <doctest/doctest.h>

namespace klaxon {
namespace {

TEST_CASE("Fnv1a64 keeps the values rule ids were always computed with") {
  static_assert(Fnv1a64("") == 0x14650fb0739d0383ull);
  CHECK(Fnv1a64("a") == 0x44bd8ad473cd9906ull);
  CHECK(Fnv1a64("foobar") == 0x88fad7c0a8ff07f2ull);
}

}  // namespace
}  // namespace klaxon
