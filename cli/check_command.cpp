#include <ostream>

#include "cli/commands.h"

namespace klaxon::cli {

int RunCheck(const Args& /*args*/, std::ostream& /*out*/, std::ostream& err) {
  err << "klaxon check: not built yet\n";
  return 2;
}

}  // namespace klaxon::cli
