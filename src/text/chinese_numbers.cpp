#include "text/chinese_numbers.hpp"

namespace amphora::text {
namespace {

const char32_t kDigits[] = U"零一二三四五六七八九";

bool is_digit(char32_t c) { return c >= U'0' && c <= U'9'; }

std::u32string digit_by_digit(const std::u32string& digits) {
  std::u32string out;
  for (char32_t d : digits) out += kDigits[d - U'0'];
  return out;
}

// One group of up to four digits ("0305" -> "三百零五" with the leading zero left to the caller).
std::u32string group_reading(const std::u32string& group) {
  static const char32_t kUnits[] = {U'千', U'百', U'十', 0};
  std::u32string out;
  bool zero_pending = false;
  const size_t offset = 4 - group.size();
  for (size_t i = 0; i < group.size(); ++i) {
    const int d = static_cast<int>(group[i] - U'0');
    if (d == 0) {
      zero_pending = !out.empty();
      continue;
    }
    if (zero_pending) out += U'零';
    zero_pending = false;
    out += kDigits[d];
    if (kUnits[offset + i] != 0) out += kUnits[offset + i];
  }
  return out;
}

}  // namespace

std::u32string integer_reading(const std::u32string& digits_in) {
  size_t first = digits_in.find_first_not_of(U'0');
  if (first == std::u32string::npos) return U"零";
  const std::u32string digits = digits_in.substr(first);
  if (digits.size() > 16) return digit_by_digit(digits_in);
  static const std::u32string kSections[] = {U"", U"万", U"亿", U"万亿"};
  std::u32string out;
  const size_t groups = (digits.size() + 3) / 4;
  size_t start = 0;
  bool zero_pending = false;
  for (size_t g = 0; g < groups; ++g) {
    const size_t length = g == 0 ? digits.size() - 4 * (groups - 1) : 4;
    const std::u32string group = digits.substr(start, length);
    start += length;
    const std::u32string reading = group_reading(group);
    if (reading.empty()) {
      zero_pending = true;
      continue;
    }
    // A zero between groups, or leading inside a group after the first, is read once.
    if (!out.empty() && (zero_pending || group[0] == U'0')) out += U'零';
    zero_pending = false;
    out += reading + kSections[groups - 1 - g];
  }
  // 10..19 say 十, not 一十, at the start of a number.
  if (out.size() >= 2 && out[0] == U'一' && out[1] == U'十') out.erase(0, 1);
  return out;
}

std::u32string read_numbers(const std::u32string& text_in) {
  std::u32string text = text_in;
  for (char32_t& c : text)
    if (c >= U'０' && c <= U'９') c = U'0' + (c - U'０');
  std::u32string out;
  size_t i = 0;
  while (i < text.size()) {
    if (!is_digit(text[i])) {
      out += text[i++];
      continue;
    }
    size_t end = i;
    while (end < text.size() && is_digit(text[end])) ++end;
    const std::u32string whole = text.substr(i, end - i);
    const bool negative = i > 0 && text[i - 1] == U'-' && (i < 2 || !is_digit(text[i - 2]));
    if (negative) out.pop_back(), out += U"负";
    // A year: digits read one by one.
    if (end < text.size() && text[end] == U'年' && whole.size() >= 2) {
      out += digit_by_digit(whole);
      i = end;
      continue;
    }
    // A fraction a/b: b分之a.
    if (end + 1 < text.size() && text[end] == U'/' && is_digit(text[end + 1])) {
      size_t den_end = end + 1;
      while (den_end < text.size() && is_digit(text[den_end])) ++den_end;
      out += integer_reading(text.substr(end + 1, den_end - end - 1)) + U"分之" +
             integer_reading(whole);
      i = den_end;
      continue;
    }
    std::u32string reading = integer_reading(whole);
    if (end + 1 < text.size() && text[end] == U'.' && is_digit(text[end + 1])) {
      size_t frac_end = end + 1;
      while (frac_end < text.size() && is_digit(text[frac_end])) ++frac_end;
      reading += U'点';
      reading += digit_by_digit(text.substr(end + 1, frac_end - end - 1));
      end = frac_end;
    }
    if (end < text.size() && (text[end] == U'%' || text[end] == U'％')) {
      reading.insert(0, U"百分之");
      ++end;
    }
    out += reading;
    i = end;
  }
  return out;
}

}  // namespace amphora::text
