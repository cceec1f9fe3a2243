/* Two conversations on one ember_context, through ember's C API: every decode evaluates the
 * next token of both in one forward pass (each weight is read once for both), and each reply
 * is sampled by its own ember_sampler under its own ember_turn (stop strings, a grammar, the
 * token limit). Then the same conversations run again, each alone in an ember_session through
 * ember_generate, and the program checks that both ways gave the same text and hold the same
 * number of tokens: a batching app gets exactly what a session gets.
 * Usage: batch_c [MODEL]   (default: models/stories260K.gguf, run from the repo root) */
#include <ember.h>
#include <stdio.h>
#include <string.h>

#define N_CONVERSATIONS 2
#define N_TURNS 2
#define N_CTX 512
#define MAX_REPLY 4096

typedef struct conversation {
    /* what it is */
    const char* user[N_TURNS]; /* the text each turn appends before the reply */
    ember_sampler_params sampling;
    const char* stop;    /* a stop string, or NULL */
    const char* grammar; /* GBNF every reply follows, or NULL */
    int32_t max_tokens;
    /* where it is */
    ember_sampler* sampler;
    ember_turn* turn;
    ember_token input[N_CTX]; /* what the next decode appends to its sequence */
    size_t n_input;
    int32_t reply_start; /* position of the reply's first token */
    ember_token pending; /* the reply's last token, sampled but not decoded (-1: none) */
    char reply[N_TURNS][MAX_REPLY];
    size_t reply_length[N_TURNS];
} conversation;

static void append_text(conversation* c, int t, const char* text, size_t length) {
    if (c->reply_length[t] + length >= MAX_REPLY) length = MAX_REPLY - 1 - c->reply_length[t];
    memcpy(c->reply[t] + c->reply_length[t], text, length);
    c->reply_length[t] += length;
    c->reply[t][c->reply_length[t]] = '\0';
}

/* The reply ended: keep in the sequence what a session keeps. After a stop string only the
 * tokens whose text was handed on; otherwise all, the last one (if the turn returned one)
 * waiting to be decoded with the next turn's text. */
static void end_reply(ember_context* context, int seq, conversation* c, ember_token last) {
    const int32_t generated = ember_turn_n_generated(c->turn);
    const int32_t kept = ember_turn_n_kept(c->turn);
    if (kept == generated) {
        c->pending = last;
    } else {
        c->pending = -1;
        ember_context_truncate(context, seq, c->reply_start + kept);
    }
    ember_turn_free(c->turn);
    c->turn = NULL;
}

/* Turn t of every conversation, batched. Returns 0 on success. */
static int run_turn(const ember_model* model, ember_context* context, conversation* cs, int t) {
    char error[512];
    for (int s = 0; s < N_CONVERSATIONS; ++s) {
        conversation* c = &cs[s];
        c->n_input = 0;
        if (c->pending >= 0) c->input[c->n_input++] = c->pending; /* seen by the sampler already */
        size_t n = 0;
        if (ember_tokenize(model, c->user[t], strlen(c->user[t]), /*add_special=*/t == 0, true,
                           c->input + c->n_input, N_CTX - c->n_input, &n) != EMBER_OK) {
            fprintf(stderr, "batch_c: a prompt does not fit\n");
            return 1;
        }
        ember_sampler_accept(c->sampler, c->input + c->n_input, n); /* the penalties see it */
        c->n_input += n;
        c->pending = -1;
        c->reply_start = ember_context_n_past(context, s) + (int32_t)c->n_input;
        ember_turn_params rules = ember_turn_default_params();
        rules.max_tokens = c->max_tokens;
        rules.stop_strings = c->stop ? &c->stop : NULL;
        rules.n_stop_strings = c->stop ? 1 : 0;
        rules.grammar = c->grammar;
        if (ember_turn_create(model, c->sampler, &rules, &c->turn, error, sizeof(error)) !=
            EMBER_OK) {
            fprintf(stderr, "batch_c: %s\n", error);
            return 1;
        }
    }
    for (;;) {
        ember_sequence_tokens inputs[N_CONVERSATIONS];
        int owner[N_CONVERSATIONS];
        size_t n_inputs = 0;
        for (int s = 0; s < N_CONVERSATIONS; ++s) {
            if (cs[s].turn == NULL) continue;
            if (ember_context_n_past(context, s) + (int32_t)cs[s].n_input > N_CTX) {
                const char* text;
                size_t length;
                ember_turn_end(cs[s].turn, EMBER_STOP_CONTEXT_FULL, &text, &length);
                append_text(&cs[s], t, text, length);
                end_reply(context, s, &cs[s], cs[s].input[0]);
                continue;
            }
            inputs[n_inputs].seq = s;
            inputs[n_inputs].tokens = cs[s].input;
            inputs[n_inputs].n_tokens = cs[s].n_input;
            owner[n_inputs++] = s;
        }
        if (n_inputs == 0) return 0; /* every reply ended */
        const ember_status status = ember_context_decode(context, inputs, n_inputs);
        if (status != EMBER_OK) {
            fprintf(stderr, "batch_c: decode: %s\n", ember_status_string(status));
            return 1;
        }
        for (size_t i = 0; i < n_inputs; ++i) {
            conversation* c = &cs[owner[i]];
            ember_token token;
            const char* text;
            size_t length;
            int32_t reason;
            if (ember_turn_next(c->turn, ember_context_logits(context, i), &token, &text, &length,
                                &reason) != EMBER_OK) {
                fprintf(stderr, "batch_c: sampling failed\n");
                return 1;
            }
            append_text(c, t, text, length);
            if (reason != EMBER_STOP_NONE) {
                end_reply(context, owner[i], c, token);
            } else {
                c->input[0] = token;
                c->n_input = 1;
            }
        }
    }
}

/* The same conversation alone in a session, through ember_generate. */
typedef struct collected {
    char text[MAX_REPLY];
    size_t length;
} collected;

static bool collect(const char* text, size_t length, void* user_data) {
    collected* out = (collected*)user_data;
    if (out->length + length >= MAX_REPLY) length = MAX_REPLY - 1 - out->length;
    memcpy(out->text + out->length, text, length);
    out->length += length;
    out->text[out->length] = '\0';
    return true;
}

static int check_alone(const ember_model* model, const conversation* c, int32_t batched_tokens) {
    char error[512];
    ember_session_params params = ember_session_default_params();
    params.n_ctx = N_CTX;
    params.sampling = c->sampling;
    ember_session* session = NULL;
    if (ember_session_create(model, &params, &session, error, sizeof(error)) != EMBER_OK) {
        fprintf(stderr, "batch_c: %s\n", error);
        return 1;
    }
    int failed = 0;
    for (int t = 0; t < N_TURNS && !failed; ++t) {
        ember_generate_params generate = ember_generate_default_params();
        generate.n_predict = c->max_tokens;
        generate.stop_strings = c->stop ? &c->stop : NULL;
        generate.n_stop_strings = c->stop ? 1 : 0;
        generate.grammar = c->grammar;
        collected alone = {{0}, 0};
        if (ember_generate(session, c->user[t], &generate, collect, &alone, NULL) != EMBER_OK) {
            fprintf(stderr, "batch_c: ember_generate failed\n");
            failed = 1;
        } else if (alone.length != c->reply_length[t] ||
                   memcmp(alone.text, c->reply[t], alone.length) != 0) {
            fprintf(stderr, "batch_c: turn %d differs\n  batched: %s\n  session: %s\n", t,
                    c->reply[t], alone.text);
            failed = 1;
        }
    }
    if (!failed && ember_session_n_tokens(session) != batched_tokens) {
        fprintf(stderr, "batch_c: the session holds %d tokens, the batched sequence %d\n",
                ember_session_n_tokens(session), batched_tokens);
        failed = 1;
    }
    ember_session_free(session);
    return failed;
}

int main(int argc, char** argv) {
    const char* path = argc > 1 ? argv[1] : "models/stories260K.gguf";
    char error[512];
    ember_model* model = NULL;
    if (ember_model_load(path, NULL, &model, error, sizeof(error)) != EMBER_OK) {
        fprintf(stderr, "batch_c: %s\n", error);
        return 1;
    }
    conversation cs[N_CONVERSATIONS];
    memset(cs, 0, sizeof(cs));
    /* One greedy, ending at its first full stop; one sampled (seed 7, a repeat penalty) inside
     * a grammar of lower-case words that ends with a full stop. */
    cs[0].user[0] = "Once upon a time";
    cs[0].user[1] = " The next day";
    cs[0].sampling = ember_session_default_params().sampling;
    cs[0].sampling.temperature = 0;
    cs[0].stop = ".";
    cs[0].max_tokens = 60;
    cs[1].user[0] = "Tom and his dog went";
    cs[1].user[1] = " Then";
    cs[1].sampling = ember_session_default_params().sampling;
    cs[1].sampling.seed = 7;
    cs[1].sampling.repeat_penalty = 1.1f;
    cs[1].grammar = "root ::= (\" \" [a-z]+)+ \".\"";
    cs[1].max_tokens = 40;

    ember_context_params params = ember_context_default_params();
    params.n_ctx = N_CTX;
    params.n_seq = N_CONVERSATIONS;
    ember_context* context = NULL;
    int failed = ember_context_create(model, &params, &context, error, sizeof(error)) != EMBER_OK;
    if (failed) fprintf(stderr, "batch_c: %s\n", error);
    for (int s = 0; s < N_CONVERSATIONS && !failed; ++s) {
        cs[s].pending = -1;
        failed =
            ember_sampler_create(&cs[s].sampling, &cs[s].sampler, error, sizeof(error)) != EMBER_OK;
        if (failed) fprintf(stderr, "batch_c: %s\n", error);
    }
    for (int t = 0; t < N_TURNS && !failed; ++t) failed = run_turn(model, context, cs, t);
    for (int s = 0; s < N_CONVERSATIONS && !failed; ++s) {
        printf("conversation %d:", s);
        for (int t = 0; t < N_TURNS; ++t) printf(" [%s]%s", cs[s].user[t], cs[s].reply[t]);
        printf("\n");
        const int32_t held = ember_context_n_past(context, s) + (cs[s].pending >= 0 ? 1 : 0);
        failed = check_alone(model, &cs[s], held);
    }
    if (!failed) printf("batch_c: both conversations match ember_generate on a session\n");
    for (int s = 0; s < N_CONVERSATIONS; ++s) {
        ember_turn_free(cs[s].turn);
        ember_sampler_free(cs[s].sampler);
    }
    ember_context_free(context);
    ember_model_free(model);
    return failed;
}
