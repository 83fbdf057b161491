// libFuzzer target for `klaxon test` files: any bytes are written as a test file and run
// through RunTest, the command's own entry (read, check, run every case). The file sits in a
// `tests` folder beside a link to examples/rules, so seeds' `../rules/*.rules` load. It must
// never crash, hang or grow without bound; exit codes and output are not judged.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "cli/commands.h"

namespace {

// A temporary folder for the whole run, removed at exit.
class WorkDir {
 public:
  WorkDir() {
    std::error_code ec;
    std::string pattern =
        (std::filesystem::temp_directory_path(ec) / "klaxon-test-file-fuzz-XXXXXX").string();
    if (ec || mkdtemp(pattern.data()) == nullptr) return;
    const std::filesystem::path root(pattern);
    std::filesystem::create_directory(root / "tests", ec);
    if (!ec)
      std::filesystem::create_directory_symlink(KLAXON_EXAMPLE_RULES_DIR, root / "rules", ec);
    if (!ec) path_ = (root / "tests" / "fuzz.test.yaml").string();
    root_ = root.string();
  }
  ~WorkDir() {
    std::error_code ec;
    if (!root_.empty()) std::filesystem::remove_all(root_, ec);
  }
  const std::string& test_file() const { return path_; }

 private:
  std::string root_;
  std::string path_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const WorkDir work_dir;  // NOLINT: fuzzer harness
  if (work_dir.test_file().empty()) std::abort();
  {
    std::ofstream file(work_dir.test_file(), std::ios::binary | std::ios::trunc);
    file.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    if (!file) std::abort();
  }
  std::ostringstream out;
  std::ostringstream err;
  (void)klaxon::cli::RunTest({work_dir.test_file()}, out, err);
  return 0;
}
