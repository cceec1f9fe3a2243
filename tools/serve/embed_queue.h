// Embeddings for `ember serve`: one engine thread per model that packs the texts of every
// waiting request into shared forward passes (many small requests cost few passes), checks
// each request's deadline and client between passes, and stops a pass at once when no request
// in it still wants the result.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/embed/embedder.h"

namespace ember::serve {

class EmbedQueue {
  public:
    // Creates the embedder (throws ember::Error when the model cannot make embeddings).
    EmbedQueue(const Model& model, const Tokenizer& tokenizer, const EmbedParams& params,
               int max_queue);
    ~EmbedQueue();  // ends every waiting request (Cancelled) and joins the thread

    int n_ctx() const { return embedder_.n_ctx(); }
    std::vector<int32_t> tokenize(std::string_view text) const { return embedder_.tokenize(text); }

    enum class Outcome { Done, Timeout, Cancelled };
    // Embeds the sequences (each at most n_ctx tokens) in order. Returns Timeout past
    // `deadline` and Cancelled when `client_gone` says so (checked every 50 ms) or the queue
    // ends; throws QueueFullError when max_queue requests wait, ember::Error for bad tokens.
    Outcome embed(std::vector<std::vector<int32_t>> sequences,
                  std::chrono::steady_clock::time_point deadline,
                  const std::function<bool()>& client_gone, std::vector<Embedding>* out);

  private:
    struct Job;
    void run();
    bool pass();  // one forward pass over the waiting texts; false when the queue ends

    Embedder embedder_;
    const int max_queue_;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<std::shared_ptr<Job>> queue_;
    std::vector<std::shared_ptr<Job>> running_;  // the jobs of the pass in progress
    bool exit_ = false;
    std::thread thread_;
};

}  // namespace ember::serve
