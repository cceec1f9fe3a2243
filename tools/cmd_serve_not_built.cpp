// `ember serve` in a build without it (EMBER_SERVE=OFF: the cross builds, whose targets lack
// POSIX sockets or nlohmann-json here): the command exists and says why it cannot run.
#include "formats/error.h"
#include "tools/command.h"

namespace ember::cli {

Runner add_serve_command(CLI::App& app) {
    CLI::App* sub = app.add_subcommand("serve", "Serve models over HTTP (not in this build)");
    sub->allow_extras();
    return []() -> int {
        throw Error(
            "this ember was built without its HTTP server (EMBER_SERVE=OFF, as the cross "
            "builds are); build with EMBER_SERVE=ON for ember serve");
    };
}

}  // namespace ember::cli
