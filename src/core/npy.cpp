#include "core/npy.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>

namespace amphora {

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;

struct Header {
  std::string descr;
  bool fortran_order = false;
  Shape shape;
};

// A parser for the one Python literal numpy writes: {'descr': '<f4',
// 'fortran_order': False, 'shape': (2, 3), }. Hand-written (no regex) so the
// fuzzer can drive every branch.
class HeaderParser {
 public:
  HeaderParser(const std::string& text, const std::string& source) : text_(text), source_(source) {}

  Header parse() {
    Header header;
    bool has_descr = false, has_order = false, has_shape = false;
    expect('{');
    while (true) {
      skip_space();
      if (peek() == '}') break;
      std::string key = parse_string();
      expect(':');
      if (key == "descr") {
        header.descr = parse_string();
        has_descr = true;
      } else if (key == "fortran_order") {
        header.fortran_order = parse_bool();
        has_order = true;
      } else if (key == "shape") {
        header.shape = parse_shape();
        has_shape = true;
      } else {
        bad("unknown key '" + key + "'");
      }
      skip_space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      skip_space();
      if (peek() != '}') bad("expected ',' or '}'");
    }
    if (!has_descr || !has_order || !has_shape) {
      bad("needs the keys 'descr', 'fortran_order' and 'shape'");
    }
    return header;
  }

 private:
  [[noreturn]] void bad(const std::string& why) const {
    fail(ErrorCode::kInvalidArgument, "{}: malformed .npy header at offset {} ({}): {}", source_,
         pos_, why, text_.substr(0, 120));
  }
  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t')) ++pos_;
  }
  void expect(char c) {
    skip_space();
    if (peek() != c) bad(std::string("expected '") + c + "'");
    ++pos_;
  }
  std::string parse_string() {
    skip_space();
    char quote = peek();
    if (quote != '\'' && quote != '"') bad("expected a quoted string");
    size_t end = text_.find(quote, pos_ + 1);
    if (end == std::string::npos) bad("unterminated string");
    std::string value = text_.substr(pos_ + 1, end - pos_ - 1);
    pos_ = end + 1;
    return value;
  }
  bool parse_bool() {
    skip_space();
    if (text_.compare(pos_, 4, "True") == 0) {
      pos_ += 4;
      return true;
    }
    if (text_.compare(pos_, 5, "False") == 0) {
      pos_ += 5;
      return false;
    }
    bad("expected True or False");
  }
  Shape parse_shape() {
    Shape shape;
    expect('(');
    while (true) {
      skip_space();
      if (peek() == ')') break;
      int64_t value = 0;
      size_t digits = 0;
      while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
        if (++digits > 15) bad("dimension too large");
        value = value * 10 + (text_[pos_] - '0');
        ++pos_;
      }
      if (peek() == 'L') ++pos_;  // Python 2 longs
      if (digits == 0) bad("expected a dimension");
      shape.push_back(value);
      skip_space();
      if (peek() == ',') {
        ++pos_;
      } else if (peek() != ')') {
        bad("expected ',' or ')'");
      }
    }
    ++pos_;
    return shape;
  }

  const std::string& text_;
  const std::string& source_;
  size_t pos_ = 0;
};

DType dtype_from_descr(const std::string& descr, const std::string& source) {
  if (descr.size() >= 2) {
    char order = descr[0];
    std::string kind = descr.substr(1);
    bool single_byte = kind == "i1" || kind == "u1" || kind == "b1";
    if (order == '>' && !single_byte) {
      fail(ErrorCode::kUnsupported,
           "{}: big-endian .npy data ('{}') is not supported; save it "
           "little-endian (numpy: a.astype(a.dtype.newbyteorder('<')))",
           source, descr);
    }
    if (order == '<' || order == '|' || order == '=' || order == '>') {
      if (kind == "f4") return DType::kFloat32;
      if (kind == "f8") return DType::kFloat64;
      if (kind == "i8") return DType::kInt64;
      if (kind == "i4") return DType::kInt32;
      if (kind == "i1") return DType::kInt8;
      if (kind == "u1") return DType::kUint8;
      if (kind == "b1") return DType::kBool;
    }
  }
  fail(ErrorCode::kUnsupported,
       "{}: .npy dtype '{}' is not supported (supported: <f4 <f8 <i8 <i4 |i1 "
       "|u1 |b1)",
       source, descr);
}

const char* descr_of(DType dtype) {
  switch (dtype) {
    case DType::kFloat32:
      return "<f4";
    case DType::kFloat64:
      return "<f8";
    case DType::kInt64:
      return "<i8";
    case DType::kInt32:
      return "<i4";
    case DType::kInt8:
      return "|i1";
    case DType::kUint8:
      return "|u1";
    case DType::kBool:
      return "|b1";
  }
  return "?";
}

uint32_t read_le(const std::string& bytes, size_t offset, size_t width) {
  uint32_t value = 0;
  for (size_t i = 0; i < width; ++i) {
    value |= static_cast<uint32_t>(static_cast<unsigned char>(bytes[offset + i])) << (8 * i);
  }
  return value;
}

}  // namespace

Tensor parse_npy(const std::string& bytes, const std::string& source) {
  if (bytes.size() < kMagicSize + 2 || std::memcmp(bytes.data(), kMagic, kMagicSize) != 0) {
    if (bytes.size() < kMagicSize + 2 && bytes.size() > 0 &&
        std::memcmp(bytes.data(), kMagic, std::min(bytes.size(), kMagicSize)) == 0) {
      fail(ErrorCode::kIo, "{}: truncated .npy file ({} bytes)", source, bytes.size());
    }
    fail(ErrorCode::kInvalidArgument, "{}: not a .npy file (bad magic)", source);
  }
  int major = static_cast<unsigned char>(bytes[6]);
  size_t length_width = major == 1 ? 2 : 4;
  if (major < 1 || major > 3) {
    fail(ErrorCode::kUnsupported, "{}: .npy format version {} is not supported", source, major);
  }
  size_t header_start = kMagicSize + 2 + length_width;
  if (bytes.size() < header_start) {
    fail(ErrorCode::kIo, "{}: truncated .npy file ({} bytes)", source, bytes.size());
  }
  size_t header_length = read_le(bytes, kMagicSize + 2, length_width);
  if (bytes.size() - header_start < header_length) {
    fail(ErrorCode::kIo, "{}: truncated .npy header ({} bytes, header needs {})", source,
         bytes.size(), header_start + header_length);
  }
  std::string text = bytes.substr(header_start, header_length);
  Header header = HeaderParser(text, source).parse();
  DType dtype = dtype_from_descr(header.descr, source);
  if (header.fortran_order) {
    // A 0-d or 1-d array is the same in both orders; numpy still may mark it
    // fortran_order.
    int64_t non_trivial = 0;
    for (int64_t d : header.shape) non_trivial += d > 1;
    if (non_trivial > 1) {
      fail(ErrorCode::kUnsupported,
           "{}: Fortran-order .npy data is not supported; save a C-order "
           "array (numpy: np.ascontiguousarray(a))",
           source);
    }
  }
  int64_t numel;
  try {
    numel = shape_numel(header.shape);
  } catch (const Error& e) {
    fail(e.code(), "{}: {}", source, e.what());
  }
  size_t data_start = header_start + header_length;
  size_t expected = static_cast<size_t>(numel) * dtype_size(dtype);
  size_t available = bytes.size() - data_start;
  if (available < expected) {
    fail(ErrorCode::kIo, "{}: truncated .npy data: shape {} {} needs {} bytes, file has {}", source,
         shape_str(header.shape), dtype_name(dtype), expected, available);
  }
  if (available > expected) {
    fail(ErrorCode::kInvalidArgument,
         "{}: .npy size mismatch: shape {} {} needs {} bytes, file has {} "
         "(trailing data)",
         source, shape_str(header.shape), dtype_name(dtype), expected, available);
  }
  Tensor tensor(dtype, header.shape);
  if (expected) std::memcpy(tensor.raw(), bytes.data() + data_start, expected);
  if (dtype == DType::kBool) {
    // Any byte other than 0/1 would be an invalid bool in C++; numpy treats
    // nonzero as True.
    auto* p = static_cast<unsigned char*>(tensor.raw());
    for (int64_t i = 0; i < numel; ++i) p[i] = p[i] != 0;
  }
  return tensor;
}

std::string encode_npy(const Tensor& tensor) {
  if (tensor.empty()) fail(ErrorCode::kInvalidArgument, "cannot write an empty (null) tensor");
  std::string dict =
      fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': (", descr_of(tensor.dtype()));
  for (size_t i = 0; i < tensor.shape().size(); ++i) {
    dict += std::to_string(tensor.shape()[i]);
    if (i + 1 < tensor.shape().size() || tensor.shape().size() == 1) dict += ",";
    if (i + 1 < tensor.shape().size()) dict += " ";
  }
  dict += "), }";
  // numpy pads the header with spaces and a final newline so the data starts
  // 64-byte aligned.
  size_t unpadded = kMagicSize + 2 + 2 + dict.size() + 1;
  int major = 1;
  if (unpadded + 64 > 65535) {
    major = 2;
    unpadded += 2;
  }
  size_t padding = (64 - unpadded % 64) % 64;
  dict += std::string(padding, ' ') + "\n";
  std::string out(kMagic, kMagicSize);
  out += static_cast<char>(major);
  out += '\0';
  size_t length = dict.size();
  for (size_t i = 0; i < (major == 1 ? 2u : 4u); ++i) {
    out += static_cast<char>((length >> (8 * i)) & 0xff);
  }
  out += dict;
  out.append(static_cast<const char*>(tensor.raw()), tensor.nbytes());
  return out;
}

Tensor read_npy(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    fail(ErrorCode::kIo, "{}: is a directory, expected a .npy file", path);
  }
  std::ifstream file(path, std::ios::binary);
  if (!file) fail(ErrorCode::kIo, "{}: cannot open .npy file: {}", path, std::strerror(errno));
  std::string bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  if (file.bad()) fail(ErrorCode::kIo, "{}: read error", path);
  return parse_npy(bytes, path);
}

void write_npy(const std::string& path, const Tensor& tensor) {
  std::string bytes = encode_npy(tensor);
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  if (!file) fail(ErrorCode::kIo, "{}: cannot open for writing: {}", path, std::strerror(errno));
  file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  file.close();
  if (!file) fail(ErrorCode::kIo, "{}: write failed", path);
}

}  // namespace amphora
