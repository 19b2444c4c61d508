// `amphora phonemize`: text -> the phones the English front end gives an acoustic model, per
// sentence; with --voice, also the voice's phone ids; with --record, flite's own recording of
// the text and each phone's end time (the labels a voice is trained on).
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "amphora/acoustic.hpp"
#include "amphora/text.hpp"
#include "audio/signal_file.hpp"
#include "audio/wav_io.hpp"
#include "cli/arguments.hpp"
#include "cli/commands.hpp"
#include "core/error.hpp"

namespace amphora::cli {
namespace {

struct PhonemizeArgs {
  std::string text;
  std::string text_file;
  bool text_given = false;  // "" is an empty text, not a missing one
  std::string voice;
  bool json = false;
  std::string record_voice;
  double stretch = 1.0;
  std::string wav;
  bool force = false;
};

std::string joined(const std::vector<std::string>& phones) {
  std::string out;
  for (const std::string& p : phones) out += (out.empty() ? "" : " ") + p;
  return out;
}

// Flite's recording of the whole text as one utterance, with its phone end times.
int run_record(const PhonemizeArgs& args, const std::string& text) {
  if (args.wav.empty()) fail(ErrorCode::kInvalidArgument, "--record needs --wav OUT.wav");
  audio::check_output_path(args.wav, args.force);
  const text::EnglishFrontEnd front_end;
  const text::FliteRecording rec = front_end.record(text, args.record_voice, args.stretch);
  audio::write_wav(args.wav, rec.samples, rec.sample_rate, audio::WavSubtype::kPcm16);
  nlohmann::json phones = nlohmann::json::array();
  for (const text::TimedPhone& p : rec.phones) phones.push_back({p.phone, p.end_seconds});
  const nlohmann::json out = {{"text", text},
                              {"voice", args.record_voice},
                              {"stretch", args.stretch},
                              {"sample_rate", rec.sample_rate},
                              {"wav", args.wav},
                              {"phones", phones}};
  std::printf("%s\n", out.dump().c_str());
  return 0;
}

int run_phonemize(const PhonemizeArgs& args) {
  check_text_source("the text,", args.text_given, args.text_file);
  const std::string text = read_text_source(args.text, args.text_file);
  if (!args.record_voice.empty()) return run_record(args, text);

  std::optional<AcousticModel> voice;
  if (!args.voice.empty()) voice.emplace(AcousticModel::load(args.voice));
  const text::EnglishFrontEnd front_end;
  std::vector<std::string> warnings;
  const std::vector<std::string> sentences = front_end.split(text, &warnings);
  for (const std::string& w : warnings)
    std::fprintf(stderr, "amphora phonemize: warning: %s\n", w.c_str());
  int spoken = 0;
  for (const std::string& sentence : sentences) {
    const text::Phonemized p = front_end.phonemize(sentence);
    if (p.words.empty()) continue;  // only punctuation
    ++spoken;
    std::vector<int64_t> ids;
    if (voice) ids = text::phone_ids(p.phones, voice->info(), args.voice);
    if (args.json) {
      nlohmann::json words = nlohmann::json::array();
      for (const text::Word& w : p.words) words.push_back({{"text", w.text}, {"phones", w.phones}});
      nlohmann::json line = {{"text", p.text}, {"phones", p.phones}, {"words", words}};
      if (voice) line["ids"] = ids;
      std::printf("%s\n", line.dump().c_str());
      continue;
    }
    std::printf("%s\n  ", p.text.c_str());
    for (const text::Word& w : p.words)
      std::printf("%s {%s} ", w.text.c_str(), joined(w.phones).c_str());
    std::printf("\n  %s\n", joined(p.phones).c_str());
    if (voice) {
      std::printf(" ");
      for (int64_t id : ids) std::printf(" %lld", static_cast<long long>(id));
      std::printf("\n");
    }
  }
  if (spoken == 0) {
    fail(ErrorCode::kInvalidArgument, "the text has nothing to speak: {}",
         text.find_first_not_of(" \t\r\n") == std::string::npos ? "it is empty"
         : sentences.empty() ? "only characters flite cannot speak"
                             : "no words, only punctuation");
  }
  return 0;
}

}  // namespace

Run add_phonemize_command(CLI::App& app) {
  auto args = std::make_shared<PhonemizeArgs>();
  CLI::App* cmd = app.add_subcommand(
      "phonemize",
      "Show the phones the English front end (libflite) makes of a text, sentence by sentence");
  CLI::Option* text = cmd->add_option("text", args->text, "The text (or --text-file)");
  cmd->add_option("--text-file", args->text_file, "Read the text from a UTF-8 file");
  cmd->add_option("--voice", args->voice,
                  "Also print the phone ids of this acoustic model package's phone table")
      ->check(CLI::ExistingDirectory);
  cmd->add_flag("--json", args->json, "One JSON object per sentence: text, phones, words, ids");
  cmd->add_option("--record", args->record_voice,
                  "Speak the text as one utterance with flite's own voice (slt, rms, awb, kal16) "
                  "into --wav, and print each phone's end time as JSON: a voice's training "
                  "labels");
  cmd->add_option("--stretch", args->stretch,
                  "With --record: flite's duration stretch (>1 slower)");
  cmd->add_option("--wav", args->wav, "With --record: where the recording goes (16-bit wav)");
  cmd->add_flag("--force", args->force, "With --record: overwrite --wav if it exists");
  return [args, text] {
    args->text_given = text->count() > 0;
    return run_phonemize(*args);
  };
}

}  // namespace amphora::cli
