// Streams a short story from a model, through ember's C++ API.
// Usage: story_cpp [MODEL] [PROMPT]   (default: models/stories260K.gguf, run from the repo root)
#include <ember.hpp>
#include <iostream>

int main(int argc, char** argv) {
    const std::string path = argc > 1 ? argv[1] : "models/stories260K.gguf";
    const std::string prompt = argc > 2 ? argv[2] : "Once upon a time";
    try {
        const ember::Model model(path);
        ember_session_params params = ember_session_default_params();
        params.sampling.seed = 7;
        ember::Session session(model, params);
        std::cout << prompt;
        const ember_generate_stats stats = session.generate(
            prompt,
            [](std::string_view text) {
                std::cout << text << std::flush;
                return true;  // false would stop the generation
            },
            120);
        std::cout << "\n";
        std::cerr << "story_cpp: " << stats.n_generated_tokens << " tokens (ember "
                  << ember::version() << ")\n";
    } catch (const ember::Exception& e) {
        std::cerr << "story_cpp: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
