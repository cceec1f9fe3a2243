// The server's continuous batching (tools/serve/scheduler.h) without HTTP: greedy replies of
// generations batched together equal a Session's alone; the prompt cache, the queue's limit,
// cancelling, time limits, stop strings and a full context.
#include "tools/serve/scheduler.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "engine/generate/session.h"
#include "tests/shared_data.h"

namespace ember::serve {
namespace {

const std::string kModel = std::string(EMBER_SOURCE_DIR) + "/models/stories260K.gguf";

struct Fixture {
    Model model{kModel};
    Tokenizer tokenizer{model.file()};
};

Fixture& fixture() {
    static Fixture f;
    return f;
}

GenerationRequest greedy(const std::string& prompt, int max_tokens) {
    GenerationRequest r;
    r.prompt = fixture().tokenizer.encode(prompt, true, true);
    r.sampling.temperature = 0;
    r.rules.max_tokens = max_tokens;
    return r;
}

struct Reply {
    std::string text;
    GenerationEvent last;
};

Reply wait(Generation& g) {
    Reply reply;
    for (;;) {
        std::optional<GenerationEvent> e = g.next(std::chrono::seconds(30));
        if (!e) {
            ADD_FAILURE() << "no event for 30 s";
            return reply;
        }
        reply.text += e->text;
        if (e->done) {
            reply.last = *e;
            return reply;
        }
    }
}

std::string alone(const std::string& prompt, int max_tokens) {
    SessionParams params;
    params.context.n_ctx = 256;
    params.sampling.temperature = 0;
    Session session(fixture().model, fixture().tokenizer, params);
    TurnOptions turn;
    turn.max_tokens = max_tokens;
    return session.generate(prompt, turn, [](std::string_view) { return true; }).text;
}

SchedulerParams slots(int n, int n_ctx = 256, int max_queue = 64) {
    SchedulerParams p;
    p.n_slots = n;
    p.context.n_ctx = n_ctx;
    p.context.n_threads = 2;
    p.max_queue = max_queue;
    return p;
}

TEST(ServeScheduler, BatchedGreedyRepliesEqualAloneOnes) {
    const std::vector<std::string> prompts = {"Once upon a time",  "The cat",
                                              "Lily and Tom went", "One day, a big dog",
                                              "The sun was",       "Tim had a toy"};
    std::vector<std::string> expected;
    for (const auto& p : prompts) expected.push_back(alone(p, 40));
    Scheduler scheduler(fixture().model, fixture().tokenizer, slots(4));
    std::vector<std::shared_ptr<Generation>> running;
    for (const auto& p : prompts) running.push_back(scheduler.submit(greedy(p, 40)));
    for (size_t i = 0; i < prompts.size(); ++i) {
        const Reply reply = wait(*running[i]);
        EXPECT_EQ(reply.text, expected[i]) << prompts[i];
        EXPECT_EQ(reply.last.finish, StopReason::Limit);
        EXPECT_EQ(reply.last.n_generated, 40);
    }
    const SchedulerStats stats = scheduler.stats();
    EXPECT_EQ(stats.busy_slots, 0);
    EXPECT_EQ(stats.generated_tokens, 40 * static_cast<int64_t>(prompts.size()));
}

// The newer families (../shared/arch2) in four slots at once: each greedy reply is a Session's
// alone (QK-norm, gemma3's local and global layers, smollm3's layers without RoPE, per
// sequence). Float files and 8 tokens: these random models are near-chaotic, and a batch sums
// in another order than one sequence alone.
TEST(ServeScheduler, FourSlotsOnEachNewerFamily) {
    for (const char* name : {"mini-qwen3-F32", "mini-gemma3-F16", "mini-smollm3-F32",
                             "mini-qwen3moe-F32", "mini-lfm2-F32", "mini-qwen35-F32"}) {
        SCOPED_TRACE(name);
        const Model model(
            test::shared_path(std::string("arch2/models/") + name + ".gguf").string());
        const Tokenizer tokenizer(model.file());
        const std::vector<std::string> prompts = {"Once upon a time", "The little dog",
                                                  "She said hello to the big", "Tom"};
        std::vector<std::string> expected;
        for (const std::string& p : prompts) {
            SessionParams params;
            params.context.n_ctx = 256;
            params.sampling.temperature = 0;
            Session session(model, tokenizer, params);
            TurnOptions turn;
            turn.max_tokens = 8;
            turn.ignore_eos = true;
            expected.push_back(
                session.generate(p, turn, [](std::string_view) { return true; }).text);
        }
        SchedulerParams params;
        params.n_slots = 4;
        params.context.n_ctx = 256;
        params.context.n_threads = 2;
        Scheduler scheduler(model, tokenizer, params);
        std::vector<std::shared_ptr<Generation>> running;
        for (const std::string& p : prompts) {
            GenerationRequest r;
            r.prompt = tokenizer.encode(p, true, true);
            r.sampling.temperature = 0;
            r.rules.max_tokens = 8;
            r.rules.ignore_eos = true;
            running.push_back(scheduler.submit(std::move(r)));
        }
        for (size_t i = 0; i < prompts.size(); ++i) {
            EXPECT_EQ(wait(*running[i]).text, expected[i]) << prompts[i];
        }
    }
}

TEST(ServeScheduler, NextTurnReusesTheSlotsCache) {
    Scheduler scheduler(fixture().model, fixture().tokenizer, slots(2));
    const std::string first = "Once upon a time, there was a little girl";
    const Reply one = wait(*scheduler.submit(greedy(first, 20)));
    EXPECT_EQ(one.last.n_cached, 0);
    const GenerationRequest next = greedy(first + one.text + " She said", 10);
    const Reply two = wait(*scheduler.submit(next));
    // Everything the first turn evaluated (its prompt and all but the last reply token) that
    // the second prompt repeats, token for token.
    EXPECT_GE(two.last.n_cached, static_cast<int>(greedy(first, 0).prompt.size()));
    EXPECT_LT(two.last.n_cached, static_cast<int>(next.prompt.size()));
    EXPECT_EQ(two.text, alone(first + one.text + " She said", 10));
    // The same prompt again: all but its last token come from the cache.
    const Reply three = wait(*scheduler.submit(next));
    EXPECT_EQ(three.last.n_cached, static_cast<int>(next.prompt.size()) - 1);
    EXPECT_EQ(three.text, two.text);
}

// Several generations of one prompt (a request's n choices): the first evaluates it, the others
// wait for that and copy its rows (all but the last token) into their own slots; the replies
// are those of the prompt alone. A prompt that shares a long prefix with a busy slot's
// conversation copies that prefix too.
TEST(ServeScheduler, OnePromptIsEvaluatedOnceForSeveralChoices) {
    Scheduler scheduler(fixture().model, fixture().tokenizer, slots(3, 2048));
    const std::string prompt =
        "Once upon a time, there was a little girl named Lily. She loved to play outside in the "
        "park with her friends and her big red ball";
    const std::string expected = alone(prompt, 20);
    // The first choice runs to the end of the context (it is cancelled below), so it is still
    // busy when the others are admitted: a 20-token reply of this model can end within the
    // moment between two submits, and a later choice would then find the prompt in that
    // finished slot instead of copying it (the same saving, another path).
    GenerationRequest first = greedy(prompt, -1);
    first.rules.ignore_eos = true;
    std::vector<std::shared_ptr<Generation>> choices{scheduler.submit(std::move(first))};
    for (int i = 0; i < 2; ++i) choices.push_back(scheduler.submit(greedy(prompt, 20)));
    const int n_prompt = static_cast<int>(greedy(prompt, 0).prompt.size());
    int cached = 0;
    for (size_t i = 1; i < choices.size(); ++i) {
        const Reply reply = wait(*choices[i]);
        EXPECT_EQ(reply.text, expected);
        cached += reply.last.n_cached;
    }
    choices[0]->cancel();
    const Reply whole = wait(*choices[0]);
    EXPECT_EQ(whole.text.substr(0, expected.size()), expected);
    EXPECT_EQ(cached, 2 * (n_prompt - 1));
    EXPECT_EQ(scheduler.stats().shared_prompts, 2);
    EXPECT_EQ(scheduler.stats().prompt_tokens, n_prompt + 2);
    // A longer conversation over the same opening, while another slot is busy with it.
    const std::shared_ptr<Generation> busy = scheduler.submit(greedy(prompt, 200));
    const Reply longer = wait(*scheduler.submit(greedy(prompt + ". One day", 10)));
    EXPECT_GE(longer.last.n_cached, n_prompt - 1);
    EXPECT_EQ(longer.text, alone(prompt + ". One day", 10));
    busy->cancel();
    wait(*busy);
}

TEST(ServeScheduler, RefusesBeyondTheQueue) {
    Scheduler scheduler(fixture().model, fixture().tokenizer, slots(1, 2048, 1));
    auto a = scheduler.submit(greedy("Once", -1));
    auto b = scheduler.submit(greedy("Once", -1));
    EXPECT_THROW(scheduler.submit(greedy("Once", -1)), QueueFullError);
    a->cancel();
    b->cancel();
    EXPECT_EQ(wait(*a).last.finish, StopReason::Cancelled);
    EXPECT_EQ(wait(*b).last.finish, StopReason::Cancelled);
}

TEST(ServeScheduler, CancelFreesTheSlot) {
    Scheduler scheduler(fixture().model, fixture().tokenizer, slots(1, 2048));
    auto g = scheduler.submit(greedy("Once upon a time", -1));
    ASSERT_TRUE(g->next(std::chrono::seconds(30)).has_value());  // it generates
    g->cancel();
    const Reply rest = wait(*g);
    EXPECT_EQ(rest.last.finish, StopReason::Cancelled);
    EXPECT_LT(rest.last.n_generated, 2000);
    EXPECT_EQ(scheduler.stats().busy_slots, 0);
    // The slot serves the next request.
    EXPECT_EQ(wait(*scheduler.submit(greedy("The cat", 5))).last.n_generated, 5);
}

TEST(ServeScheduler, EndsAtDeadlineStopStringAndFullContext) {
    Scheduler scheduler(fixture().model, fixture().tokenizer, slots(2, 64));
    GenerationRequest late = greedy("Once upon a time", -1);
    late.deadline = std::chrono::steady_clock::now();
    EXPECT_EQ(wait(*scheduler.submit(late)).last.finish, StopReason::Timeout);

    const std::string text = alone("Once upon a time", 30);
    const size_t comma = text.find(',');
    ASSERT_NE(comma, std::string::npos) << text;
    GenerationRequest stop = greedy("Once upon a time", 30);
    stop.rules.stop_strings = {","};
    const Reply stopped = wait(*scheduler.submit(stop));
    EXPECT_EQ(stopped.text, text.substr(0, comma));
    EXPECT_EQ(stopped.last.finish, StopReason::StopString);

    // 64 positions: a context shift goes on past them; without, the context ends the reply.
    GenerationRequest long_reply = greedy("Once upon a time", 200);
    long_reply.rules.ignore_eos = true;
    const Reply shifted = wait(*scheduler.submit(long_reply));
    EXPECT_EQ(shifted.last.finish, StopReason::Limit);
    EXPECT_EQ(shifted.last.n_generated, 200);
    EXPECT_LE(scheduler.stats().kv_positions_used, 2 * 64);
    // Without max_tokens a reply stops at the full context all the same.
    GenerationRequest open_ended = greedy("Once upon a time", -1);
    open_ended.rules.ignore_eos = true;
    const Reply to_the_end = wait(*scheduler.submit(open_ended));
    EXPECT_EQ(to_the_end.last.finish, StopReason::ContextFull);
    EXPECT_LE(to_the_end.last.n_prompt + to_the_end.last.n_generated, 65);
    SchedulerParams no_shift = slots(1, 64);
    no_shift.context_shift = false;
    Scheduler bounded(fixture().model, fixture().tokenizer, no_shift);
    const Reply full = wait(*bounded.submit(long_reply));
    EXPECT_EQ(full.last.finish, StopReason::ContextFull);
    EXPECT_LE(full.last.n_prompt + full.last.n_generated, 65);

    std::vector<int32_t> long_prompt(64, fixture().tokenizer.encode("a", false, false)[0]);
    GenerationRequest too_long;
    too_long.prompt = long_prompt;
    EXPECT_THROW(scheduler.submit(too_long), Error);
}

// Speculation in the slots (a draft model's sequence per slot, its passes shared; or lookup):
// each greedy reply is still a Session's alone, through stop strings and context shifts, and the
// guesses taken are counted.
TEST(ServeScheduler, SpeculatingSlotsGiveThePlainReplies) {
    const std::string stories = test::shared_path("models/ember-stories-5M/").string();
    const Model target(stories + "ember-stories-5M-F32.gguf");
    const Tokenizer tokenizer(target.file());
    const Model draft(stories + "ember-stories-5M-Q4_0.gguf");
    const auto request = [&](const std::string& prompt, int max_tokens) {
        GenerationRequest r;
        r.prompt = tokenizer.encode(prompt, true, true);
        r.sampling.temperature = 0;
        r.rules.max_tokens = max_tokens;
        r.rules.ignore_eos = true;
        return r;
    };
    const auto plain = [&](const std::string& prompt, int max_tokens, int n_ctx) {
        SessionParams params;
        params.context.n_ctx = n_ctx;
        params.sampling.temperature = 0;
        Session session(target, tokenizer, params);
        TurnOptions turn;
        turn.max_tokens = max_tokens;
        turn.ignore_eos = true;
        turn.context_shift = true;
        return session.generate(prompt, turn, [](std::string_view) { return true; }).text;
    };
    const std::vector<std::string> prompts = {"Once upon a time",  "The cat",
                                              "Lily and Tom went", "One day, a big dog",
                                              "The sun was",       "Tim had a toy"};
    for (const bool lookup : {false, true}) {
        SCOPED_TRACE(lookup ? "lookup" : "draft model");
        SchedulerParams params = slots(4, 128);
        params.speculation.draft_model = lookup ? nullptr : &draft;
        params.speculation.lookup = lookup;
        params.speculation.draft.max = 6;
        Scheduler scheduler(target, tokenizer, params);
        std::vector<std::shared_ptr<Generation>> running;
        for (const auto& p : prompts) running.push_back(scheduler.submit(request(p, 60)));
        // Past the 128 positions of a slot: a context shift while guessing.
        running.push_back(scheduler.submit(request("Once upon a time", 200)));
        for (size_t i = 0; i < prompts.size(); ++i) {
            const Reply reply = wait(*running[i]);
            EXPECT_EQ(reply.text, plain(prompts[i], 60, 128)) << prompts[i];
            EXPECT_EQ(reply.last.n_generated, 60);
        }
        const Reply shifted = wait(*running.back());
        EXPECT_EQ(shifted.last.n_generated, 200);
        EXPECT_EQ(shifted.text, plain("Once upon a time", 200, 128));
        // A stop string inside the guesses taken.
        const std::string text = plain("Once upon a time", 40, 128);
        const size_t cut = text.find(" was");
        ASSERT_NE(cut, std::string::npos) << text;
        GenerationRequest stop = request("Once upon a time", 40);
        stop.rules.stop_strings = {" was"};
        const Reply stopped = wait(*scheduler.submit(stop));
        EXPECT_EQ(stopped.text, text.substr(0, cut));
        EXPECT_EQ(stopped.last.finish, StopReason::StopString);
        // The next turn of that conversation finds its tokens in the slot, guessed ones included.
        GenerationRequest next = request("Once upon a time" + stopped.text + " was", 10);
        const Reply again = wait(*scheduler.submit(next));
        EXPECT_GT(again.last.n_cached, 4);
        const SchedulerStats stats = scheduler.stats();
        EXPECT_GT(stats.drafted_tokens, 0);
        if (!lookup) {
            EXPECT_GT(stats.accepted_tokens, stats.drafted_tokens / 3);
        }
        EXPECT_LE(stats.accepted_tokens, stats.drafted_tokens);
        EXPECT_LE(stats.kv_positions_used, 4 * 128);
    }
}

}  // namespace
}  // namespace ember::serve
