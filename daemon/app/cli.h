#pragma once
// The command line: serve, check-config, import, questions, --version.
namespace replywatch::app {

// Parses argv and runs the subcommand; returns the exit code.
int runCli(int argc, char** argv);

}  // namespace replywatch::app
