#include <ostream>

#include "cli/commands.h"

namespace klaxon::cli {

int RunFmt(const Args& /*args*/, std::ostream& /*out*/, std::ostream& err) {
  err << "klaxon fmt: not built yet\n";
  return 2;
}

}  // namespace klaxon::cli
