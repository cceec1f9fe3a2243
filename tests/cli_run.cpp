#include "tests/cli_run.h"

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "tests/shared_data.h"

namespace ember::test {

namespace {

CliResult run_command(const std::string& command_line, const std::string& input) {
    const auto dir = temp_dir("cli-run");
    const auto out = dir / "stdout", err = dir / "stderr", in = dir / "stdin";
    std::ofstream(in, std::ios::binary) << input;
    const std::string command =
        command_line + " >" + out.string() + " 2>" + err.string() + " <" + in.string();
    const int raw = std::system(command.c_str());
    CliResult result{WIFEXITED(raw) ? WEXITSTATUS(raw) : -1, {}, {}};
    const auto out_bytes = read_file(out), err_bytes = read_file(err);
    result.out.assign(out_bytes.begin(), out_bytes.end());
    result.err.assign(err_bytes.begin(), err_bytes.end());
    std::filesystem::remove_all(dir);
    return result;
}

}  // namespace

CliResult run_ember(const std::string& args, const std::string& input) {
    return run_command(std::string(EMBER_CLI_PATH) + " " + args, input);
}

CliResult run_shell(const std::string& script) {
    const auto dir = temp_dir("cli-shell");
    const auto file = dir / "script.sh";
    std::ofstream(file, std::ios::binary) << "EMBER='" << EMBER_CLI_PATH << "'\n" << script << "\n";
    CliResult result = run_command("/bin/sh " + file.string(), "");
    std::filesystem::remove_all(dir);
    return result;
}

}  // namespace ember::test
