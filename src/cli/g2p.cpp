// `amphora g2p --lang zh`: Chinese text -> the phones Amphion's Mandarin front end gives
// (MaskGCT's G2P: dictionaries, a polyphone BERT, tone sandhi, IPA), one line per input line;
// --pinyin prints the readings instead, --wordpiece the BERT tokenizer's tokens.
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

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
  fail(ErrorCode::kUnsupported, "not yet");
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
  cmd->add_flag("--wordpiece", args->wordpiece,
                "Print each line's BERT WordPiece tokens (JSON) instead of phones");
  return [args, text] {
    args->text_given = text->count() > 0;
    return run_g2p(*args);
  };
}

}  // namespace amphora::cli
