#include <ostream>

#include "cli/commands.h"

namespace klaxon::cli {

int RunService(const Args& /*args*/, std::ostream& /*out*/, std::ostream& err) {
  err << "klaxon run: not built yet\n";
  return 2;
}

}  // namespace klaxon::cli
