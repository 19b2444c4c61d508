// Peak resident memory of this process, for `amphora bench`.
#pragma once

namespace amphora::cli {

// The high-water mark of this process's own memory (VmHWM in /proc/self/status), in MB. Not
// getrusage's ru_maxrss: Linux carries that across exec, so a bench started by a large parent
// (a Python harness holding ONNX Runtime, ~250 MB) would report at least the parent's size.
double peak_rss_mb();

}  // namespace amphora::cli
