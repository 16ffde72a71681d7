// kiln: the command line. `kiln run FILE.yaml` runs a job end to end on the
// embedded default (coordinator and workers in this process, simulated
// LLM); the other subcommands talk to a coordinator. `kiln --help`.
#include "cli/commands.h"

int main(int argc, char** argv) { return kiln::cli::Main(argc, argv); }
