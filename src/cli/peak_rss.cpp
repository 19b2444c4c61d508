#include "cli/peak_rss.hpp"

#include <sys/resource.h>

#include <fstream>
#include <string>

namespace amphora::cli {

double peak_rss_mb() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;  // "  1234 kB"
  }
  rusage usage{};  // no procfs: the inherited-maximum figure is better than none
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // KiB on Linux
}

}  // namespace amphora::cli
