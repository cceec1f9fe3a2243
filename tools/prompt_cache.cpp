#include "tools/prompt_cache.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "formats/error.h"
#include "formats/output_file.h"
#include "platform/files.h"
#include "tools/command.h"

namespace ember::cli {

void check_prompt_cache_path(const std::string& path, std::span<const std::string> inputs) {
    const platform::PathKind kind = platform::path_kind(path);
    if (kind == platform::PathKind::Directory) {
        throw UsageError("--prompt-cache " + path + " is a directory, not a file");
    }
    if (kind == platform::PathKind::Other) {
        throw UsageError("--prompt-cache " + path +
                         " is not a regular file (a device or a pipe); give a file's path");
    }
    for (const std::string& input : inputs) {
        if (!input.empty() && platform::same_file(path, input)) {
            throw UsageError("--prompt-cache " + path + " is one of the command's inputs (" +
                             input + "); saving the session there would destroy it");
        }
    }
}

bool load_prompt_cache(Session& session, const std::string& path, bool restore_sampler,
                       std::string* app_data) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) return false;
    try {
        session.load_state_file(path, restore_sampler, app_data);
        return true;
    } catch (const Error& e) {
        std::fprintf(stderr, "ember: prompt cache not used: %s; evaluating afresh\n", e.what());
        return false;
    }
}

int append_with_prompt_cache(Session& session, std::span<const int32_t> prompt) {
    // A state saved mid-generation holds a sampled token not yet evaluated: not a prompt's.
    if (session.n_tokens() > static_cast<int>(session.tokens().size()))
        session.rewind(static_cast<int>(session.tokens().size()));
    const std::vector<int32_t>& cached = session.tokens();
    const size_t common = static_cast<size_t>(
        std::mismatch(cached.begin(), cached.end(), prompt.begin(), prompt.end()).first -
        cached.begin());
    if (common == cached.size() && common == prompt.size()) return static_cast<int>(common);
    // Keep the common prefix; the logits must come from the prompt's last token, so a prompt
    // that is a prefix of the cached tokens evaluates its last token again.
    const size_t keep = common == prompt.size() ? common - 1 : common;
    session.rewind(static_cast<int>(keep));
    session.append_tokens(prompt.subspan(keep));
    return static_cast<int>(keep);
}

void save_prompt_cache(const Session& session, const std::string& path,
                       std::span<const std::string> inputs, std::string_view app_data) {
    try {
        const std::vector<uint8_t> state = session.save_state(app_data);
        OutputFile out(path, inputs);
        out.write(state.data(), state.size());
        out.commit();
    } catch (const Error& e) {
        std::fprintf(stderr, "ember: prompt cache not saved: %s\n", e.what());
    }
}

}  // namespace ember::cli
