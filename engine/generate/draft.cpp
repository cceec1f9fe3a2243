#include "engine/generate/draft.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "engine/model/ops.h"
#include "engine/text/vocab.h"
#include "formats/error.h"

namespace ember {

void check_draft_vocabulary(const Model& target, const Model& draft) {
    const Vocab t(target.file()), d(draft.file());
    const std::string names = draft.file().name() + " cannot draft for " + target.file().name();
    // llama.cpp's limit on padding between the two (SPEC_VOCAB_MAX_SIZE_DIFFERENCE).
    constexpr int kMaxSizeDifference = 128;
    if (std::abs(t.size() - d.size()) > kMaxSizeDifference) {
        throw Error(names + ": its vocabulary has " + std::to_string(d.size()) +
                    " tokens, the target's " + std::to_string(t.size()) +
                    " (a draft model must share the target's vocabulary)");
    }
    if (t.model != d.model) {
        throw Error(names + ": its tokenizer is '" + d.model + "', the target's '" + t.model +
                    "' (a draft model must share the target's vocabulary)");
    }
    if (t.bos != d.bos || t.eos != d.eos) {
        throw Error(names + ": its begin/end-of-text tokens are " + std::to_string(d.bos) + "/" +
                    std::to_string(d.eos) + ", the target's " + std::to_string(t.bos) + "/" +
                    std::to_string(t.eos));
    }
    const int32_t n = std::min(t.size(), d.size());
    for (int32_t id = 0; id < n; ++id) {
        if (t.text(id) != d.text(id)) {
            throw Error(names + ": token " + std::to_string(id) + " is '" +
                        std::string(d.text(id)) + "' there and '" + std::string(t.text(id)) +
                        "' in the target (a draft model must share the target's vocabulary)");
        }
    }
}

void check_draft_rollback(const Model& model, const char* role) {
    if (model.config().recurrent()) {
        throw Error(std::string(role) + " " + model.file().name() + ": a " +
                    std::string(model.config().arch->name) +
                    " model keeps a recurrent state that cannot take back the guesses it "
                    "rejects; speculative decoding needs a model with only attention layers");
    }
}

std::unique_ptr<Drafter> make_drafter(const SpeculationParams& params, const Model& target,
                                      const ContextParams& context) {
    if (!params.enabled()) return nullptr;
    if (params.draft_model != nullptr && params.lookup) {
        throw Error("speculation takes a draft model or lookup, not both");
    }
    if (params.draft.max < 1 || params.draft.min < 0 || params.draft.min > params.draft.max) {
        throw Error("speculation: the draft max (" + std::to_string(params.draft.max) +
                    " tokens guessed at a time) must be at least 1 and at least the draft min (" +
                    std::to_string(params.draft.min) + ")");
    }
    if (!(params.draft.p_min >= 0.0f && params.draft.p_min <= 1.0f)) {
        throw Error("speculation: the draft's least probability must be between 0 and 1");
    }
    check_draft_rollback(target, "the target model");
    if (params.lookup) return std::make_unique<LookupDrafter>();
    check_draft_vocabulary(target, *params.draft_model);
    ContextParams draft_context = context;
    draft_context.max_memory = 0;  // the budget is the target's
    return std::make_unique<ModelDrafter>(*params.draft_model, draft_context,
                                          target.config().n_vocab, params.draft.p_min);
}

ModelDrafter::ModelDrafter(const Model& draft, const ContextParams& params, int target_vocab,
                           float p_min)
    : context_(draft, params), target_vocab_(target_vocab), p_min_(p_min), held_(params.n_seq) {
    check_draft_rollback(draft, "the draft model");
}

void ModelDrafter::draft(std::span<DraftRequest> requests) {
    // Each sequence's cache is brought to its tokens (what it holds of them kept; the last
    // token always evaluated again, for the logits after it), all of them in shared passes
    // of up to n_batch tokens; then one token of every sequence still guessing per pass.
    struct Active {
        DraftRequest* request;
        size_t next = 0;  // of request->tokens: the first not yet in the cache
        int32_t last = -1;
        bool done = false;  // no more guesses
    };
    std::vector<Active> active;
    for (DraftRequest& r : requests) {
        r.guesses.clear();
        std::vector<int32_t>& held = held_.at(r.seq);
        const int n = static_cast<int>(r.tokens.size());
        // Room for the guesses (all but the last are evaluated here).
        r.max = std::min(r.max, context_.n_ctx() - n + 1);
        if (r.max <= 0 || n == 0) continue;
        int common = 0;
        const int limit = std::min(static_cast<int>(held.size()), n - 1);
        while (common < limit && held[common] == r.tokens[common]) ++common;
        context_.truncate(r.seq, common);
        held.resize(common);
        active.push_back({&r, static_cast<size_t>(common)});
    }
    std::vector<SequenceTokens> inputs;
    std::vector<Active*> input_of;
    std::vector<float> probs(context_.n_vocab());
    for (bool prefill = true; !active.empty();) {
        // One pass: what is left of each sequence's tokens (while prefilling) or its last guess.
        inputs.clear();
        input_of.clear();
        int room = context_.n_batch();
        for (Active& a : active) {
            if (room == 0) break;
            std::span<const int32_t> ids;
            if (prefill) {
                const size_t left = a.request->tokens.size() - a.next;
                if (left == 0) continue;
                ids = a.request->tokens.subspan(a.next, std::min<size_t>(left, room));
            } else {
                ids = {&a.last, 1};
            }
            inputs.push_back({a.request->seq, ids});
            input_of.push_back(&a);
            room -= static_cast<int>(ids.size());
        }
        if (inputs.empty()) {  // every sequence is in: guess from here on
            prefill = false;
            continue;
        }
        context_.decode_sequences(inputs);
        for (size_t i = 0; i < inputs.size(); ++i) {
            Active& a = *input_of[i];
            DraftRequest& r = *a.request;
            held_[r.seq].insert(held_[r.seq].end(), inputs[i].tokens.begin(),
                                inputs[i].tokens.end());
            if (prefill) {
                a.next += inputs[i].tokens.size();
                if (a.next < r.tokens.size()) continue;  // more of it in the next pass
            }
            // The draft's most likely next token, if it is sure enough of it.
            const float* logits = context_.sequence_logits(static_cast<int>(i));
            std::copy(logits, logits + probs.size(), probs.begin());
            softmax(probs.data(), static_cast<int>(probs.size()));
            const auto best =
                static_cast<int32_t>(std::max_element(probs.begin(), probs.end()) - probs.begin());
            if (probs[best] < p_min_ || best >= target_vocab_) {
                a.done = true;
                continue;
            }
            r.guesses.push_back(best);
            a.last = best;
            // The last guess is not evaluated: the target evaluates it.
            if (static_cast<int>(r.guesses.size()) == r.max) a.done = true;
        }
        std::erase_if(active, [](const Active& a) { return a.done; });
    }
}

void LookupDrafter::draft(std::span<DraftRequest> requests) {
    for (DraftRequest& r : requests) {
        r.guesses.clear();
        const std::span<const int32_t> tokens = r.tokens;
        const int n = static_cast<int>(tokens.size());
        for (int size = kMaxNgram; size >= kMinNgram && r.guesses.empty(); --size) {
            if (n <= size) continue;
            const std::span<const int32_t> tail = tokens.subspan(n - size);
            // The latest earlier occurrence (it may overlap the tail, as in a repeated phrase).
            for (int at = n - size - 1; at >= 0; --at) {
                if (!std::equal(tail.begin(), tail.end(), tokens.begin() + at)) continue;
                const int from = at + size, count = std::min(r.max, n - from);
                r.guesses.assign(tokens.begin() + from, tokens.begin() + from + count);
                break;
            }
        }
    }
}

}  // namespace ember
