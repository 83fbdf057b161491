#include <ostream>

#include "cli/commands.h"

namespace klaxon::cli {

int RunNotify(const Args& /*args*/, std::ostream& /*out*/, std::ostream& err) {
  err << "klaxon notify: not built yet\n";
  return 2;
}

}  // namespace klaxon::cli
