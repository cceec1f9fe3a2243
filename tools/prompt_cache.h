// `--prompt-cache FILE` (llama.cpp's flag) for ember run and ember chat: a saved session state
// (Session::save_state_file) that a later run reuses instead of evaluating its tokens again.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "engine/generate/session.h"

namespace ember::cli {

// Refuses (UsageError) a --prompt-cache path that is one of the command's inputs (the model,
// a grammar or schema file: saving would write a session over it), or that exists and is not
// a regular file (a directory, a FIFO that would block, /dev/zero that never ends). Called
// before the model loads, like every other output's check.
void check_prompt_cache_path(const std::string& path, std::span<const std::string> inputs);

// Loads FILE into the (empty) session if it holds a state for this model and KV cache type.
// A file that cannot be used (missing is fine and quiet; wrong model, truncated, damaged) is
// reported on stderr and ignored: the session stays empty. Returns whether it loaded.
bool load_prompt_cache(Session& session, const std::string& path, bool restore_sampler,
                       std::string* app_data = nullptr);

// ember run: evaluates `prompt` into a session that load_prompt_cache filled (or left empty),
// reusing the longest common prefix of the cached tokens and the prompt; a prompt equal to
// the cached tokens evaluates nothing (the state holds the logits after its last token).
// Returns how many prompt tokens came from the cache.
int append_with_prompt_cache(Session& session, std::span<const int32_t> prompt);

// Saves the session to FILE (written beside it and renamed into place, never over one of
// `inputs`); a failure is reported on stderr, not fatal: the run goes on.
void save_prompt_cache(const Session& session, const std::string& path,
                       std::span<const std::string> inputs, std::string_view app_data = {});

}  // namespace ember::cli
