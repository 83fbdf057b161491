#include <ostream>

#include "cli/commands.h"

namespace klaxon::cli {

int RunReplay(const Args& /*args*/, std::ostream& /*out*/, std::ostream& err) {
  err << "klaxon replay: not built yet\n";
  return 2;
}

}  // namespace klaxon::cli
