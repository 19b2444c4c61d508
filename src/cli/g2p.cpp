// `amphora g2p --lang zh`: Chinese text -> the phones Amphion's Mandarin front end gives
// (MaskGCT's G2P: dictionaries, a polyphone BERT, tone sandhi, IPA), one line per input line;
// --json adds each character's reading and its source, --wordpiece prints the BERT tokenizer's
// tokens instead.
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "amphora/chinese_g2p.hpp"
#include "cli/arguments.hpp"
#include "cli/commands.hpp"
#include "core/error.hpp"
#include "text/bert_tokenizer.hpp"

namespace amphora::cli {
namespace {

struct G2PArgs {
  std::string lang = "zh";
  std::string text;
  std::string text_file;
  bool text_given = false;
  std::string model_dir;
  bool wordpiece = false;
  bool json = false;
  int threads = 1;
};

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  if (lines.empty()) lines.emplace_back();  // an empty text is one empty line
  return lines;
}

int run_g2p(const G2PArgs& args) {
  if (args.lang != "zh")
    fail(ErrorCode::kInvalidArgument, "--lang {}: only zh (Mandarin) has a G2P here", args.lang);
  check_text_source("the text,", args.text_given, args.text_file);
  const std::string text = read_text_source(args.text, args.text_file);
  if (args.wordpiece) {
    const text::BertTokenizer tokenizer = text::BertTokenizer::load(args.model_dir + "/vocab.txt");
    for (const std::string& line : lines_of(text))
      std::printf("%s\n", nlohmann::json(tokenizer.tokenize(line)).dump().c_str());
    return 0;
  }
  if (text.find_first_not_of(" \t\r\n") == std::string::npos)
    fail(ErrorCode::kInvalidArgument, "the text is empty: nothing to read");
  Options options;
  options.threads = args.threads;
  const ChineseG2P g2p = ChineseG2P::load(args.model_dir, options);
  bool any = false;
  for (const std::string& line : lines_of(text)) {
    const ChineseG2PResult r = g2p.convert(line);
    for (const std::string& w : r.warnings)
      std::fprintf(stderr, "amphora g2p: warning: %s\n", w.c_str());
    any = any || !r.phones.empty();
    if (!args.json) {
      std::printf("%s\n", r.phones.c_str());
      continue;
    }
    nlohmann::json readings = nlohmann::json::array();
    for (const ChineseReading& c : r.readings)
      readings.push_back({{"char", c.character}, {"pinyin", c.pinyin}, {"source", c.source}});
    const nlohmann::json out = {{"text", line},       {"normalized", r.normalized},
                                {"words", r.words},   {"readings", readings},
                                {"phones", r.phones}, {"warnings", r.warnings}};
    std::printf("%s\n", out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  }
  // Text with no Mandarin in it passes through as empty lines (named in the warnings); a text
  // with nothing at all to read is an error, so that a script notices.
  if (!any)
    fail(ErrorCode::kInvalidArgument,
         "the text has nothing the Mandarin G2P reads (see the "
         "warnings): no Chinese characters or punctuation");
  return 0;
}

}  // namespace

Run add_g2p_command(CLI::App& app) {
  auto args = std::make_shared<G2PArgs>();
  CLI::App* cmd = app.add_subcommand(
      "g2p", "Chinese text -> phones (Amphion's Mandarin G2P with its polyphone BERT), per line");
  CLI::Option* text = cmd->add_option("text", args->text, "The text (or --text-file)");
  cmd->add_option("--text-file", args->text_file, "Read the text from a UTF-8 file");
  cmd->add_option("--lang", args->lang, "Language of the text (zh)");
  cmd->add_option("--model", args->model_dir,
                  "G2P model folder laid out like Amphion's g2p_chinese_model")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd->add_flag("--json", args->json,
                "One JSON object per line: normalized text, words, each character's reading and "
                "where it came from (phrase, character, polyphone-bert), phones, warnings");
  cmd->add_option("--threads", args->threads, "Threads for the polyphone BERT");
  cmd->add_flag("--wordpiece", args->wordpiece,
                "Print each line's BERT WordPiece tokens (JSON) instead of phones");
  return [args, text] {
    args->text_given = text->count() > 0;
    return run_g2p(*args);
  };
}

}  // namespace amphora::cli
