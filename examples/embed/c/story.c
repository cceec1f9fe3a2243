/* Streams a short story from a model, through ember's C API.
 * Usage: story_c [MODEL] [PROMPT]   (default: models/stories260K.gguf, run from the repo root) */
#include <ember.h>
#include <stdio.h>
#include <string.h>

static bool print_text(const char* text, size_t length, void* user_data) {
    (void)user_data;
    fwrite(text, 1, length, stdout);
    fflush(stdout);
    return true; /* false would stop the generation */
}

int main(int argc, char** argv) {
    const char* path = argc > 1 ? argv[1] : "models/stories260K.gguf";
    const char* prompt = argc > 2 ? argv[2] : "Once upon a time";
    char error[512];

    ember_model* model = NULL;
    if (ember_model_load(path, NULL, &model, error, sizeof(error)) != EMBER_OK) {
        fprintf(stderr, "story_c: %s\n", error);
        return 1;
    }
    ember_session_params params = ember_session_default_params();
    params.sampling.seed = 42;
    ember_session* session = NULL;
    if (ember_session_create(model, &params, &session, error, sizeof(error)) != EMBER_OK) {
        fprintf(stderr, "story_c: %s\n", error);
        ember_model_free(model);
        return 1;
    }
    ember_generate_params generate = ember_generate_default_params();
    generate.n_predict = 120;
    ember_generate_stats stats;
    printf("%s", prompt);
    const ember_status status =
        ember_generate(session, prompt, &generate, print_text, NULL, &stats);
    printf("\n");
    if (status != EMBER_OK) {
        fprintf(stderr, "story_c: %s\n", ember_status_string(status));
    } else {
        fprintf(stderr, "story_c: %d tokens, %.1f tokens/s (ember %s)\n", stats.n_generated_tokens,
                stats.generate_ms > 0 ? 1000.0 * stats.n_generated_tokens / stats.generate_ms : 0.0,
                ember_version());
    }
    ember_session_free(session);
    ember_model_free(model);
    return status == EMBER_OK ? 0 : 1;
}
