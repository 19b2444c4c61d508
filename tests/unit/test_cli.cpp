// Runs the `amphora` binary (inspect, run) as a user would and checks its output, files and
// exit status.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/npy.hpp"
#include "test_graph_builder.hpp"

namespace amphora {
namespace {

namespace fs = std::filesystem;

struct Result {
  int exit_code;
  std::string out;
  std::string err;
};

std::string slurp(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("amphora_cli_" + std::to_string(getpid()));
    fs::create_directories(dir_);
    ASSERT_TRUE(fs::exists(AMPHORA_CLI)) << "build the amphora binary first";
  }
  void TearDown() override { fs::remove_all(dir_); }

  Result amphora(const std::string& args) {
    std::string out = (dir_ / "stdout.txt").string(), err = (dir_ / "stderr.txt").string();
    std::string command = std::string(AMPHORA_CLI) + " " + args + " >" + out + " 2>" + err;
    int status = std::system(command.c_str());
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(out), slurp(err)};
  }

  // mel[batch, 4, frames] + bias -> "onnx::Add_out" (a name that needs sanitising as a file).
  std::string write_model(const std::string& name) {
    testing::OnnxModelBuilder b(17);
    b.input("mel", onnx::TensorProto::FLOAT, {"batch", "4", "frames"})
        .initializer("bias", Tensor::from_vector<float>({1, 4, 1}, {1, 2, 3, 4}))
        .add("Add", {"mel", "bias"}, {"onnx::Add_out"})
        .output("onnx::Add_out", onnx::TensorProto::FLOAT, {"batch", "4", "frames"})
        .metadata("amphora", R"({"schema_version": 1, "family": "hifigan", "sample_rate": 22050})")
        .metadata("comment", "made by test_cli");
    std::string path = (dir_ / name).string();
    b.save(path);
    return path;
  }

  fs::path dir_;
};

TEST_F(CliTest, InspectPrintsDimsOpsParametersAndManifest) {
  Result r = amphora("inspect " + write_model("m.onnx"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("mel"), std::string::npos);
  EXPECT_NE(r.out.find("[batch, 4, frames]"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ai.onnx 17"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("parameters: 4"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Add"), std::string::npos);
  EXPECT_NE(r.out.find("\"family\": \"hifigan\""), std::string::npos) << r.out;  // pretty JSON
  EXPECT_NE(r.out.find("comment: made by test_cli"), std::string::npos) << r.out;
}

TEST_F(CliTest, InspectJsonIsMachineReadable) {
  Result r = amphora("inspect --json " + write_model("m.onnx"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["inputs"][0]["name"], "mel");
  EXPECT_EQ(j["inputs"][0]["dims"], nlohmann::json::parse(R"(["batch", 4, "frames"])"));
  EXPECT_EQ(j["opsets"]["ai.onnx"], 17);
  EXPECT_EQ(j["parameters"], 4);
  EXPECT_EQ(j["ops"][0]["op_type"], "Add");
  EXPECT_EQ(j["ops"][0]["count"], 1);
  EXPECT_EQ(j["metadata"]["amphora"]["sample_rate"], 22050);
  EXPECT_TRUE(j["unsupported_ops"].empty());
}

TEST_F(CliTest, InspectAcceptsAPackageDirectory) {
  fs::create_directories(dir_ / "pkg");
  write_model("pkg/net.onnx");
  std::ofstream(dir_ / "pkg" / "amphora.json") << R"({"formats": {"onnx": "net.onnx"}})";
  Result r = amphora("inspect --json " + (dir_ / "pkg").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("net.onnx"), std::string::npos);
}

TEST_F(CliTest, RunWritesOutputsAndPrintsShapesAndTime) {
  std::string model = write_model("m.onnx");
  std::string mel = (dir_ / "mel.npy").string();
  write_npy(mel, Tensor::from_vector<float>({1, 4, 2}, {0, 1, 2, 3, 4, 5, 6, 7}));
  Result r = amphora("run " + model + " --input mel=" + mel + " --output-dir " +
                     (dir_ / "out").string() + " --threads 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("[1, 4, 2]"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" ms"), std::string::npos) << r.out;
  Tensor y = read_npy((dir_ / "out" / "onnx__Add_out.npy").string());
  EXPECT_EQ(y.to_float_vector(), (std::vector<float>{1, 2, 4, 5, 7, 8, 10, 11}));

  // A model with one input also takes a bare FILE.npy; --reference gives the same numbers.
  r = amphora("run " + model + " -i " + mel + " -o " + (dir_ / "ref").string() + " --reference");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read_npy((dir_ / "ref" / "onnx__Add_out.npy").string()).to_float_vector(),
            y.to_float_vector());
}

TEST_F(CliTest, ErrorsAreOneLineOnStderrWithExitCode1) {
  std::string model = write_model("m.onnx");
  std::string mel = (dir_ / "mel.npy").string();
  write_npy(mel, Tensor(DType::kFloat32, {1, 4, 2}));
  auto expect_one_line_error = [&](const std::string& args, const std::string& needle) {
    Result r = amphora(args);
    EXPECT_EQ(r.exit_code, 1) << args;
    EXPECT_NE(r.err.find(needle), std::string::npos) << args << " -> " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  };
  expect_one_line_error("run " + model + " --input mel=" + (dir_ / "nope.npy").string(),
                        "nope.npy");
  expect_one_line_error("run " + model + " --input wrong=" + mel, "unknown input 'wrong'");
  write_npy(mel, Tensor(DType::kFloat32, {1, 5, 2}));
  expect_one_line_error("run " + model + " --input mel=" + mel, "[1, 5, 2]");
  std::ofstream(dir_ / "corrupt.onnx") << "definitely not protobuf \xff\xff\xff";
  expect_one_line_error("inspect " + (dir_ / "corrupt.onnx").string(), "corrupt.onnx");
  expect_one_line_error("inspect " + (dir_ / "missing.onnx").string(), "missing.onnx");
  expect_one_line_error("run " + model, "--input");  // usage errors too
  Result help = amphora("run --help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("--output-dir"), std::string::npos);
}

}  // namespace
}  // namespace amphora
