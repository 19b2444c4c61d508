// Arabic numbers in Chinese text -> their Mandarin reading, as Amphion's G2P asks cn2an's
// transform("an2cn") for: "2024年" -> "二零二四年", "3.14" -> "三点一四", "50%" -> "百分之五十",
// "-7" -> "负七", "1/2" -> "二分之一", "10086" -> "一万零八十六". Full-width digits count as
// digits.
#pragma once

#include <string>

namespace amphora::text {

std::u32string read_numbers(const std::u32string& text);

// An integer's reading ("一百二十三", "十五", "一万零一"); digits past 16 are read one by one.
std::u32string integer_reading(const std::u32string& digits);

}  // namespace amphora::text
