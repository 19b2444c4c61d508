#include "cli/commands.hpp"

namespace amphora::cli {

// placeholder until the command is implemented
Run add_mel_command(CLI::App& app) {
  app.add_subcommand("mel", "(not implemented yet)");
  return [] { return 2; };
}

}  // namespace amphora::cli
