// The `kiln` command line: subcommands, their help, exit codes.
//
// Exit codes: 0 done (a batch SUCCEEDED); 1 a batch FAILED or was
// CANCELLED; 2 bad usage or input (flags, config, spec); 3 the coordinator
// could not be reached, refused the token, or failed the call; 130
// interrupted (Ctrl-C).
#ifndef KILN_CLI_COMMANDS_H_
#define KILN_CLI_COMMANDS_H_

#include <ostream>
#include <string>
#include <vector>

namespace kiln {
namespace cli {

// Runs `kiln` with `argv`; returns the exit code. Call first thing in main:
// it blocks SIGINT and SIGTERM in every thread and handles them on its own
// (the first stops or detaches cleanly, the second exits at once).
int Main(int argc, char** argv);

// The same with the arguments after the program name and the streams to
// write to (Main passes std::cout and std::cerr); every command writes
// through them.
int Run(std::vector<std::string> args, std::ostream& out, std::ostream& err);

}  // namespace cli
}  // namespace kiln

#endif  // KILN_CLI_COMMANDS_H_
