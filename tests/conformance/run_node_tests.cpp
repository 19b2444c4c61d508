// Runs the official ONNX backend node tests (Debian libonnx-testdata, or the onnx Python
// package's onnx/backend/test/data/node) against amphora.
//
//   run_node_tests [--data DIR] [--skips FILE] [--filter SUBSTRING] [--verbose] [--no-fork]
//                  [--run-skipped]   (also runs listed tests and reports those that now pass)
//
// A test applies when every op of its model is registered in OpRegistry at the model's
// opset; the others are counted as "not applicable". An applicable test is run on each of its
// test_data_set_* and compared with the expected outputs (floats: |a - e| <= 1e-5 + 1e-3 |e|,
// like ONNX's backend tests; integers and bools exactly). It may only be skipped through an
// entry in skips.txt ("test_name  reason"). Each test runs in a forked child, so a crashing
// kernel is reported as that test's failure instead of ending the run.
// The last line is "N passed, N failed, N skipped"; the exit status is 1 on any failure.
#include <onnx/onnx_pb.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "graph/onnx_import.hpp"
#include "ops/kernel.hpp"
#include "runtime/session.hpp"

namespace fs = std::filesystem;
using namespace amphora;

namespace {

struct Config {
  std::string data_dir = "/usr/share/libonnx-testdata/data/node";
  std::string skips_file;
  std::string filter;
  bool verbose = false;
  bool fork_each = true;
  bool run_skipped = false;  // also run listed tests, to find entries that no longer apply
};

std::map<std::string, std::string> read_skips(const std::string& path) {
  std::map<std::string, std::string> skips;
  if (path.empty()) return skips;
  std::ifstream in(path);
  if (!in) fail(ErrorCode::kIo, "{}: cannot open the skip list", path);
  std::string line;
  while (std::getline(in, line)) {
    size_t start = line.find_first_not_of(" \t");
    if (start == std::string::npos || line[start] == '#') continue;
    size_t end = line.find_first_of(" \t", start);
    std::string name = line.substr(start, end - start);
    std::string reason = end == std::string::npos ? "" : line.substr(end);
    reason.erase(0, std::min(reason.size(), reason.find_first_not_of(" \t")));
    if (reason.empty()) fail(ErrorCode::kInvalidArgument, "{}: '{}' has no reason", path, name);
    skips[name] = reason;
  }
  return skips;
}

// The ops of a test's model that this build does not register, judged from the raw protobuf
// (amphora's importer may refuse a model for reasons the test should report, not hide).
std::vector<std::string> unclaimed_ops(const std::string& model_path) {
  std::ifstream in(model_path, std::ios::binary);
  onnx::ModelProto model;
  if (!model.ParseFromIstream(&in)) return {"<unparseable model>"};
  std::map<std::string, int64_t> opsets;
  for (const auto& op : model.opset_import()) {
    opsets[op.domain() == "ai.onnx" ? "" : op.domain()] = op.version();
  }
  std::vector<std::string> missing;
  for (const auto& node : model.graph().node()) {
    std::string domain = node.domain() == "ai.onnx" ? "" : node.domain();
    if (!OpRegistry::instance().supports(domain, node.op_type(), opsets[domain])) {
      missing.push_back(node.op_type());
    }
  }
  return missing;
}

std::vector<Tensor> read_tensors(const fs::path& dir, const char* prefix) {
  std::vector<Tensor> tensors;
  for (int i = 0;; ++i) {
    fs::path file = dir / (std::string(prefix) + std::to_string(i) + ".pb");
    if (!fs::exists(file)) break;
    tensors.push_back(load_onnx_tensor(file.string()));
  }
  return tensors;
}

// Empty string when `actual` matches `expected`, else what differs.
std::string compare(const Tensor& actual, const Tensor& expected) {
  if (actual.dtype() != expected.dtype()) {
    return fmt::format("dtype {} != expected {}", dtype_name(actual.dtype()),
                       dtype_name(expected.dtype()));
  }
  if (actual.shape() != expected.shape()) {
    return fmt::format("shape {} != expected {}", shape_str(actual.shape()),
                       shape_str(expected.shape()));
  }
  bool is_float = actual.dtype() == DType::kFloat32 || actual.dtype() == DType::kFloat64;
  std::string mismatch;
  visit_dtype(actual.dtype(), [&](auto zero) {
    using T = decltype(zero);
    const T* a = actual.data<T>();
    const T* e = expected.data<T>();
    for (int64_t i = 0; i < actual.numel(); ++i) {
      bool ok;
      if (is_float) {
        double av = static_cast<double>(a[i]), ev = static_cast<double>(e[i]);
        ok = (std::isnan(av) && std::isnan(ev)) || av == ev ||
             std::fabs(av - ev) <= 1e-5 + 1e-3 * std::fabs(ev);
      } else {
        ok = a[i] == e[i];
      }
      if (!ok) {
        mismatch = fmt::format("element {} is {}, expected {}", i, static_cast<double>(a[i]),
                               static_cast<double>(e[i]));
        return;
      }
    }
  });
  return mismatch;
}

// Runs one test in this process; empty string on success, else the failure.
std::string run_test(const fs::path& dir) {
  try {
    Session session(load_onnx((dir / "model.onnx").string()));
    const Graph& graph = session.graph();
    std::vector<fs::path> sets;
    for (const auto& entry : fs::directory_iterator(dir)) {
      if (entry.path().filename().string().rfind("test_data_set_", 0) == 0) {
        sets.push_back(entry.path());
      }
    }
    std::sort(sets.begin(), sets.end());
    if (sets.empty()) return "no test_data_set_* directory";
    for (const fs::path& set : sets) {
      std::vector<Tensor> inputs = read_tensors(set, "input_");
      std::vector<Tensor> expected = read_tensors(set, "output_");
      if (inputs.size() != graph.inputs.size()) {
        return fmt::format("{}: {} input files for {} graph inputs", set.filename().string(),
                           inputs.size(), graph.inputs.size());
      }
      std::map<std::string, Tensor> feeds;
      for (size_t i = 0; i < inputs.size(); ++i) feeds[graph.inputs[i].name] = inputs[i];
      auto outputs = session.run(feeds);
      for (size_t i = 0; i < expected.size() && i < graph.outputs.size(); ++i) {
        const std::string& name = graph.outputs[i].name;
        std::string diff = compare(outputs.at(name), expected[i]);
        if (!diff.empty()) {
          return fmt::format("{}: output '{}': {}", set.filename().string(), name, diff);
        }
      }
    }
    return "";
  } catch (const Error& e) {
    return fmt::format("{}: {}", to_string(e.code()), e.what());
  } catch (const std::exception& e) {
    return fmt::format("exception: {}", e.what());
  }
}

// Runs one test in a child process so that a crash or a hang is this test's failure only.
std::string run_test_isolated(const fs::path& dir) {
  int fds[2];
  if (pipe(fds) != 0) return run_test(dir);
  std::fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    alarm(120);
    std::string result = run_test(dir);
    std::string message = "R" + result;
    ssize_t written = write(fds[1], message.data(), message.size());
    _exit(written == static_cast<ssize_t>(message.size()) ? 0 : 3);
  }
  close(fds[1]);
  std::string message;
  char buffer[4096];
  ssize_t n;
  while ((n = read(fds[0], buffer, sizeof buffer)) > 0) message.append(buffer, n);
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFSIGNALED(status)) {
    return fmt::format("crashed with signal {} ({})", WTERMSIG(status),
                       strsignal(WTERMSIG(status)));
  }
  if (message.empty() || message[0] != 'R') return "child exited without a result";
  return message.substr(1);
}

Config parse_args(int argc, char** argv) {
  Config config;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&] {
      if (i + 1 >= argc) fail(ErrorCode::kInvalidArgument, "{} needs a value", arg);
      return std::string(argv[++i]);
    };
    if (arg == "--data") {
      config.data_dir = value();
    } else if (arg == "--skips") {
      config.skips_file = value();
    } else if (arg == "--filter") {
      config.filter = value();
    } else if (arg == "--verbose") {
      config.verbose = true;
    } else if (arg == "--run-skipped") {
      config.run_skipped = true;
    } else if (arg == "--no-fork") {
      config.fork_each = false;
    } else {
      fail(ErrorCode::kInvalidArgument, "unknown argument '{}'", arg);
    }
  }
  return config;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    Config config = parse_args(argc, argv);
    auto skips = read_skips(config.skips_file);
    if (!fs::is_directory(config.data_dir)) {
      fail(ErrorCode::kIo, "{}: ONNX node test data not found (install libonnx-testdata)",
           config.data_dir);
    }
    std::vector<fs::path> tests;
    for (const auto& entry : fs::directory_iterator(config.data_dir)) {
      std::string name = entry.path().filename().string();
      if (name.rfind("test_", 0) == 0 && name.find(config.filter) != std::string::npos) {
        tests.push_back(entry.path());
      }
    }
    std::sort(tests.begin(), tests.end());

    int passed = 0, failed = 0, skipped = 0, not_applicable = 0;
    std::map<std::string, int> unclaimed_count;
    for (const fs::path& dir : tests) {
      std::string name = dir.filename().string();
      auto missing = unclaimed_ops(dir / "model.onnx");
      if (!missing.empty()) {
        ++not_applicable;
        for (const auto& op : missing) ++unclaimed_count[op];
        continue;
      }
      if (auto it = skips.find(name); it != skips.end()) {
        ++skipped;
        if (config.verbose) std::printf("SKIP %s: %s\n", name.c_str(), it->second.c_str());
        if (config.run_skipped && run_test_isolated(dir).empty()) {
          std::printf("STALE %s passes: remove it from the skip list\n", name.c_str());
        }
        continue;
      }
      std::string result = config.fork_each ? run_test_isolated(dir) : run_test(dir);
      if (result.empty()) {
        ++passed;
        if (config.verbose) std::printf("PASS %s\n", name.c_str());
      } else {
        ++failed;
        std::printf("FAIL %s: %s\n", name.c_str(), result.c_str());
      }
    }
    std::string unclaimed;
    for (const auto& [op, count] : unclaimed_count) unclaimed += " " + op;
    std::printf("%d tests not applicable (ops not registered:%s)\n", not_applicable,
                unclaimed.empty() ? " none" : unclaimed.c_str());
    std::printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    return failed == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "run_node_tests: %s\n", e.what());
    return 2;
  }
}
