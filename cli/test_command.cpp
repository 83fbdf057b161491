#include <ostream>

#include "cli/commands.h"

namespace klaxon::cli {

int RunTest(const Args& /*args*/, std::ostream& /*out*/, std::ostream& err) {
  err << "klaxon test: not built yet\n";
  return 2;
}

}  // namespace klaxon::cli
