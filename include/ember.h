/* ember: quantized language-model inference and embeddings on CPUs, from GGUF files.
 *
 * The public C API of libember.a.
 *   - Opaque handles: a model (read-only after loading; share it between threads and
 *     sessions) and a session (one conversation: its own KV cache, sampler and threads).
 *   - Parameter structs come with *_default_params(); set only what you need.
 *   - Every function reports failure through its return value (ember_status or NULL) and a
 *     message; no exception or abort ever crosses into your code.
 *   - The library prints nothing: give ember_set_log_callback() a function to see its logs.
 *   - Thread safety: functions on different sessions may run concurrently, also when they
 *     share a model; one session is used by one thread at a time, except
 *     ember_session_cancel(), which any thread may call at any time.
 */
#ifndef EMBER_H
#define EMBER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EMBER_VERSION_MAJOR 0
#define EMBER_VERSION_MINOR 1
#define EMBER_VERSION_PATCH 0
#define EMBER_VERSION_STRING "0.1.0"

/* The library's version as "MAJOR.MINOR.PATCH"; compare with EMBER_VERSION_STRING to detect a
 * header / library mismatch. */
const char* ember_version(void);

typedef int32_t ember_token;

typedef enum ember_status {
    EMBER_OK = 0,
    EMBER_ERROR_INVALID_ARGUMENT = 1, /* NULL where a value is needed, a bad parameter */
    EMBER_ERROR_FILE = 2,             /* the file cannot be opened or read */
    EMBER_ERROR_FORMAT = 3,           /* not a valid GGUF file, or a model ember cannot run; a
                                         saved session state that is damaged or not this one's */
    EMBER_ERROR_CONTEXT_FULL = 4,     /* the session's context cannot hold more tokens */
    EMBER_ERROR_CANCELLED = 5,        /* ember_session_cancel() interrupted the call */
    EMBER_ERROR_BUFFER_TOO_SMALL = 6, /* the output buffer is too small; the size needed is set */
    EMBER_ERROR_OUT_OF_MEMORY = 7,
    EMBER_ERROR_INTERNAL = 8
} ember_status;

/* A short English description of a status ("file error"). Never NULL. */
const char* ember_status_string(ember_status status);

/* The message of the last call on this thread that failed ("grammar: line 2, column 7: ...",
 * "the output buffer is too small"), or "" if it gave none; calls that succeed may clear it.
 * For calls without an error buffer (ember_generate, ember_session_append, ...) and for
 * bindings. Valid until the next call on this thread. */
const char* ember_last_error(void);

/* ---- logging ---- */

typedef enum ember_log_level {
    EMBER_LOG_DEBUG = 0,
    EMBER_LOG_INFO = 1,
    EMBER_LOG_WARN = 2,
    EMBER_LOG_ERROR = 3
} ember_log_level;

typedef void (*ember_log_callback)(ember_log_level level, const char* message, void* user_data);

/* Where the library's log lines go; NULL (the default) silences it. Process-wide. */
void ember_set_log_callback(ember_log_callback callback, void* user_data);

/* ---- models ---- */

typedef struct ember_model ember_model;

typedef struct ember_model_params {
    /* 1 (default): pack the weight matrices at load time into the layout of this CPU's fastest
     * kernels where it has one (x86 with AVX2, aarch64), which makes generation much faster;
     * memory stays about the file's size (the packed tensors' mapped pages are released),
     * except for IQ1_M tensors on x86 with VNNI, unpacked for speed to 1.36x their bytes.
     * 0: every kernel reads the memory-mapped file in place. */
    int32_t repack;
} ember_model_params;

ember_model_params ember_model_default_params(void);

/* Loads a GGUF file (memory-mapped, validated). On failure *out_model is NULL and, if error is
 * not NULL, a message naming the file and the problem is written there (truncated to
 * error_size, always NUL-terminated). params may be NULL for the defaults. */
ember_status ember_model_load(const char* path, const ember_model_params* params,
                              ember_model** out_model, char* error, size_t error_size);
void ember_model_free(ember_model* model); /* NULL is fine */

int32_t ember_model_n_vocab(const ember_model* model);     /* 0 for NULL */
int32_t ember_model_n_ctx_train(const ember_model* model); /* 0 for NULL */
ember_token ember_model_bos(const ember_model* model);     /* -1 if none */
ember_token ember_model_eos(const ember_model* model);     /* -1 if none */

/* Text to tokens. add_special: BOS/EOS as the vocabulary asks; parse_special: control tokens
 * written in the text become their ids. Writes up to capacity tokens and sets *n_tokens to the
 * count; EMBER_ERROR_BUFFER_TOO_SMALL (with *n_tokens = the count needed) if they do not fit. */
ember_status ember_tokenize(const ember_model* model, const char* text, size_t text_length,
                            bool add_special, bool parse_special, ember_token* tokens,
                            size_t capacity, size_t* n_tokens);

/* Tokens to text (UTF-8, not NUL-terminated; *length set to its size). The space the
 * SentencePiece encoder puts before the text is removed. EMBER_ERROR_BUFFER_TOO_SMALL with
 * *length = the size needed if it does not fit. */
ember_status ember_detokenize(const ember_model* model, const ember_token* tokens, size_t n_tokens,
                              char* text, size_t capacity, size_t* length);

/* ---- sessions ---- */

typedef struct ember_session ember_session;

typedef struct ember_sampler_params {
    float temperature;       /* <= 0: greedy. Default 0.8. Out-of-domain values (NaN, a top_p
                                outside 0..1, a penalty of 0) make session create fail */
    int32_t top_k;           /* 0: off. Default 40 */
    float top_p;             /* 1: off. Default 0.95 */
    float min_p;             /* 0: off. Default 0.05 */
    float repeat_penalty;    /* 1: off. Default 1 */
    float frequency_penalty; /* 0: off */
    float presence_penalty;  /* 0: off */
    int32_t repeat_last_n;   /* tokens the penalties look back over. Default 64 */
    uint64_t seed;           /* same seed, same tokens. Default 0 */
} ember_sampler_params;

/* The KV cache's type: F16 (llama.cpp's default), F32, or Q8_0 / Q4_0 blocks (about a half / a
 * quarter of F16's memory; the model's head size must be a multiple of 32, else create fails). */
typedef enum ember_kv_type {
    EMBER_KV_F16 = 0,
    EMBER_KV_F32 = 1,
    EMBER_KV_Q8_0 = 2,
    EMBER_KV_Q4_0 = 3
} ember_kv_type;

typedef struct ember_session_params {
    int32_t n_ctx;     /* context size in tokens; 0: the training context, at most 4096. A
                          context whose KV cache cannot fit in the available memory fails */
    int32_t n_threads; /* 0: the fast physical cores this process may use (not the little
                          cores of a big.LITTLE phone); at most 4x its CPUs */
    int32_t n_batch;   /* most tokens evaluated at once. Default 512 */
    int32_t kv_type;   /* an ember_kv_type; default EMBER_KV_F16 */
    /* A memory budget in bytes for weights, KV cache and scratch together; 0: none. With
       n_ctx 0 the context shrinks to fit (ember_session_n_ctx tells the size); a given n_ctx
       that does not fit makes create fail, saying how many tokens would. A mixture of experts
       loaded with repack 0 keeps its experts in the file's mapping, and the budget counts the
       share of them a token reads. */
    uint64_t max_memory;
    ember_sampler_params sampling;
    /* Speculative decoding (the same text, faster): a small model of the same vocabulary
       (ember_model_load; it must outlive the session) guesses up to draft_max tokens, which this
       model checks in one forward pass; a guess is taken only where it is the token this model
       samples itself. NULL: none. Refused (create fails, saying why) for another vocabulary
       or a model with recurrent layers (lfm2, qwen35). */
    const ember_model* draft_model;
    int32_t draft_max; /* most tokens guessed at a time; default 16 */
    int32_t draft_min; /* fewer guesses than this: one token plainly; default 0 */
    float draft_p_min; /* the draft stops where its top probability is below this; 0.75 */
    /* Without a draft model: > 0 guesses up to this many tokens from what followed the text's
       last words where they appeared before (for replies that copy from their input). */
    int32_t lookup;
} ember_session_params;

ember_session_params ember_session_default_params(void);

/* A new, empty session on a model. The model must outlive it. params may be NULL. */
ember_status ember_session_create(const ember_model* model, const ember_session_params* params,
                                  ember_session** out_session, char* error, size_t error_size);
void ember_session_free(ember_session* session); /* NULL is fine */

/* Evaluates text after what the session holds (tokenized with BOS if the session is empty,
 * special tokens parsed). The KV cache is kept: later calls evaluate only their new tokens. */
ember_status ember_session_append(ember_session* session, const char* text, size_t text_length);
ember_status ember_session_append_tokens(ember_session* session, const ember_token* tokens,
                                         size_t n_tokens);

/* Starts over from text, for apps that send the whole conversation each time (a stateless
 * completion API, a chat app's history): the session then holds exactly text's tokens
 * (tokenized as ember_session_append tokenizes an empty session's text), evaluating only what
 * follows the longest start it shares with what the session held (an earlier turn's cache is
 * kept), and its sampler starts over from its seed, with sampling as its parameters when not
 * NULL (they stay the session's). The reply then depends on text and the parameters alone.
 * An empty text fails. */
ember_status ember_session_set_prompt(ember_session* session, const char* text, size_t text_length,
                                      const ember_sampler_params* sampling);

/* The next-token logits after the last evaluated token (ember_model_n_vocab values), or NULL
 * if nothing was evaluated yet. Valid until the next call on the session. */
const float* ember_session_logits(ember_session* session);

/* Tokens the session holds (after ember_generate, the last generated token too: it is sampled,
 * and evaluated with the next call); forget all of them (keeping the parameters), or all
 * after n. */
int32_t ember_session_n_tokens(const ember_session* session);
int32_t ember_session_n_ctx(const ember_session* session); /* its context size; 0 for NULL */
ember_status ember_session_reset(ember_session* session);
ember_status ember_session_rewind(ember_session* session, int32_t n_tokens);

/* ---- saved sessions (an app the OS suspends resumes where it was) ---- */

/* The session's whole state: its tokens, their KV cache, the logits after the last one and the
 * sampler's state, named with the model's fingerprint and a checksum; a session restored from
 * it (in this process or another, on the same model file and KV cache type) goes on exactly as
 * this one would, evaluating nothing again. Writes it to buffer if capacity suffices and sets
 * *length to its size; EMBER_ERROR_BUFFER_TOO_SMALL (with *length set) if not, so a call with
 * capacity 0 asks for the size. About 2 x layers x tokens x kv_dim cache values. */
ember_status ember_session_save_state(const ember_session* session, void* buffer, size_t capacity,
                                      size_t* length);
/* Restores a saved state into a session of the same model file and KV cache type (its context
 * must hold the state's tokens). The whole state is checked first: a wrong model, another KV
 * cache type, a truncated or damaged state fails with EMBER_ERROR_FORMAT and the reason in
 * error, and the session is left as it was. */
ember_status ember_session_load_state(ember_session* session, const void* state, size_t size,
                                      char* error, size_t error_size);
/* The same through a file (written whole or not at all: a crash mid-save leaves the previous
 * file). EMBER_ERROR_FILE if it cannot be written or read. */
ember_status ember_session_save_file(const ember_session* session, const char* path, char* error,
                                     size_t error_size);
ember_status ember_session_load_file(ember_session* session, const char* path, char* error,
                                     size_t error_size);

/* ---- generation ---- */

/* Why a reply ended: ember_generate_stats.stop_reason, ember_turn_next. */
typedef enum ember_stop_reason {
    EMBER_STOP_NONE = -1,        /* ember_turn_next: the reply goes on */
    EMBER_STOP_END = 0,          /* end-of-sequence, an end-of-turn token, or a finished grammar */
    EMBER_STOP_STRING = 1,       /* a stop string (not part of the text) */
    EMBER_STOP_LIMIT = 2,        /* the most tokens (n_predict, max_tokens) */
    EMBER_STOP_CALLBACK = 3,     /* the callback returned false */
    EMBER_STOP_CANCELLED = 4,    /* ember_session_cancel() */
    EMBER_STOP_CONTEXT_FULL = 5, /* no room for the next token (and no context shift) */
    EMBER_STOP_TIMEOUT = 6,      /* a deadline passed (ember serve's; never from this API) */
    EMBER_STOP_ERROR = 7         /* the reply could not go on (an app's own reason to end it) */
} ember_stop_reason;

/* Receives generated text as it is produced: whole UTF-8 characters, never part of a stop
 * string. Return false to stop generating. */
typedef bool (*ember_text_callback)(const char* text, size_t length, void* user_data);

typedef struct ember_generate_params {
    int32_t n_predict;               /* most tokens; -1: until the context is full. Default 256 */
    const char* const* stop_strings; /* generation ends before any of these; may be NULL */
    size_t n_stop_strings;
    bool ignore_eos; /* keep going past end-of-sequence */
    /* A full context: drop half of the tokens after the first n_keep (and the BOS), turning
       the cached keys' positions back, and go on (llama.cpp's context shift; a model with
       recurrent layers evaluates the tokens kept again); false: stop with
       EMBER_STOP_CONTEXT_FULL. Default false. */
    bool context_shift;
    int32_t n_keep;
    /* A power budget: at most this many tokens per second, by sleeping between tokens (not
       spinning); 0: no cap. Default 0. */
    float max_tokens_per_second;
    /* A thermal back-off: while the hottest thermal zone the system reports (Linux, Android)
       is above this many degrees Celsius, generation slows to half its pace, again at each
       check (about once a second) that finds it hot, down to 1 token/s; 5 degrees below, the
       normal pace returns. 0: off. Default 0. */
    float thermal_limit_celsius;
    /* Structured output, at most one of the two (NULL: free text). grammar: GBNF text
       (llama.cpp's notation; the rule "root" is the whole reply). json_schema: a JSON Schema
       the reply must be valid under ("{\"type\": \"object\"}": any JSON object). Only
       tokens that keep the reply inside are sampled, end-of-sequence only where the reply may
       end, and a reply that is whole with nothing more allowed ends the call (EMBER_STOP_END);
       n_predict still applies (EMBER_STOP_LIMIT). A grammar or schema ember cannot use makes the
       call fail with EMBER_ERROR_INVALID_ARGUMENT before anything is evaluated;
       ember_grammar_check says why. Default NULL. */
    const char* grammar;
    const char* json_schema;
    /* A chat template whose end-of-turn markers end the reply, as in ember_turn_params: a
       built-in format's name or a template's text as in ember_chat_format, "" for the model's
       own; NULL (default): only end-of-sequence and the vocabulary's end-of-turn tokens. */
    const char* chat_template;
} ember_generate_params;

ember_generate_params ember_generate_default_params(void);

/* Checks a grammar or a JSON schema (as in ember_generate_params; one of them non-NULL):
 * EMBER_OK, or EMBER_ERROR_INVALID_ARGUMENT with the reason in error ("grammar: line 2,
 * column 7: ...", "json schema: at /properties/age: ..."). error may be NULL. */
ember_status ember_grammar_check(const char* grammar, const char* json_schema, char* error,
                                 size_t error_size);

typedef struct ember_generate_stats {
    int32_t n_prompt_tokens;
    double prompt_ms;
    int32_t n_generated_tokens;
    double generate_ms;
    int32_t stop_reason;       /* an ember_stop_reason */
    int32_t thermal_slowdowns; /* times the thermal back-off halved the pace */
    int32_t n_drafted;         /* speculative decoding: tokens guessed */
    int32_t n_accepted;        /* of those, the tokens taken */
} ember_generate_stats;

/* Appends prompt (may be NULL or empty), then samples and streams tokens to callback. A
 * cancelled generation returns EMBER_OK with EMBER_STOP_CANCELLED (the text so far stays in the
 * session); after a stop string the session keeps only the tokens whose text was streamed; a
 * cancelled prompt evaluation returns EMBER_ERROR_CANCELLED. stats may be NULL. */
ember_status ember_generate(ember_session* session, const char* prompt,
                            const ember_generate_params* params, ember_text_callback callback,
                            void* user_data, ember_generate_stats* stats);

/* Asks the session's running call to stop soon; any thread, any time. A call forgets, as it
 * starts, a cancel made before it (one that came late for the call before must not stop it). */
void ember_session_cancel(ember_session* session);

/* Cancelling a call that may not have started yet (a binding that hands its calls to a worker
 * thread): the caller keeps a flag for the call, 0, and hands the session its address before
 * the call (NULL: watch none); any thread may then set it to nonzero, before or while the call
 * runs, and the call stops as ember_session_cancel() stops it. The session does not clear the
 * flag. Write it with an atomic store (C11 atomic_store on an _Atomic int32_t,
 * std::atomic_ref<int32_t>); it must stay valid while watched. */
void ember_session_watch_cancel(ember_session* session, const int32_t* flag);

/* ---- several sequences in one decode (continuous batching) ---- */

/* A context that holds n_seq sequences side by side, each with its own n_ctx positions of KV
 * cache, and evaluates new tokens of several of them in one forward pass: every weight is read
 * once for all (a server's slots: the next token of each generating sequence and a chunk of a
 * waiting prompt together). Sampling is the caller's: it gets each sequence's logits. */
typedef struct ember_context ember_context;

typedef struct ember_context_params {
    int32_t n_ctx;     /* positions per sequence; 0: the training context, at most 4096 */
    int32_t n_seq;     /* sequences; the KV cache is n_seq x n_ctx positions. Default 1 */
    int32_t n_threads; /* 0: the physical cores this process may use */
    int32_t n_batch;   /* most tokens in one decode, all sequences together. Default 512 */
    int32_t kv_type;   /* an ember_kv_type; default EMBER_KV_F16 */
} ember_context_params;

typedef struct ember_sequence_tokens {
    int32_t seq; /* 0 .. n_seq - 1, at most once per decode */
    const ember_token* tokens;
    size_t n_tokens; /* appended after what the sequence holds */
} ember_sequence_tokens;

ember_context_params ember_context_default_params(void);
ember_status ember_context_create(const ember_model* model, const ember_context_params* params,
                                  ember_context** out_context, char* error, size_t error_size);
void ember_context_free(ember_context* context); /* NULL is fine */

/* Evaluates the inputs in one forward pass. EMBER_ERROR_CONTEXT_FULL if a sequence would
 * overflow its n_ctx; EMBER_ERROR_INVALID_ARGUMENT for a sequence out of range or given twice,
 * a token outside the vocabulary, or more tokens than n_batch. Nothing changes on failure. */
ember_status ember_context_decode(ember_context* context, const ember_sequence_tokens* inputs,
                                  size_t n_inputs);
/* After a decode: the next-token logits (ember_model_n_vocab values) after inputs[i]'s last
 * token, or NULL for an i past the last input. Valid until the next call on the context. */
const float* ember_context_logits(const ember_context* context, size_t i);
int32_t ember_context_n_past(const ember_context* context, int32_t seq); /* -1: no such seq */
/* Forgets a sequence's positions from n on (0: empties it, for the next request). A model
 * with recurrent layers (lfm2) evaluates the sequence's first n tokens again to get there. */
ember_status ember_context_truncate(ember_context* context, int32_t seq, int32_t n);

/* ---- samplers and turns: a reply's rules for apps that run ember_context themselves ---- */

/* A sampler: the chain of ember_sampler_params (penalties, top-k, top-p, min-p, temperature,
 * a seeded draw) and what it carries from token to token (its random state, the recent tokens
 * the penalties look at). Keep one per conversation, as a session keeps its own: the same
 * seed, tokens and logits give the tokens ember_generate gives. */
typedef struct ember_sampler ember_sampler;

/* params may be NULL for the defaults; out-of-domain values fail (as in ember_session_create). */
ember_status ember_sampler_create(const ember_sampler_params* params, ember_sampler** out_sampler,
                                  char* error, size_t error_size);
void ember_sampler_free(ember_sampler* sampler); /* NULL is fine */
/* Shows the penalties tokens of the sequence that were not generated through a turn on this
 * sampler: the prompt, each new user message. (A session does this for its appends.) */
ember_status ember_sampler_accept(ember_sampler* sampler, const ember_token* tokens,
                                  size_t n_tokens);
/* Forgets the recent tokens and restarts the random draw from the seed. */
ember_status ember_sampler_reset(ember_sampler* sampler);

/* A turn: one reply sampled with a sampler under the rules ember_generate obeys (end tokens,
 * grammar, whole UTF-8 characters, stop strings held back, the token limit), one token at a
 * time, from logits the app's own decodes give (ember_context_logits), so an app can run many
 * conversations on one ember_context:
 *
 *   turn = ember_turn_create(model, sampler, &params)
 *   loop: ember_turn_next(turn, logits, &token, &text, &length, &reason)
 *         hand on text; if reason != EMBER_STOP_NONE: done
 *         else decode token in the conversation's sequence for the next logits
 *
 * After EMBER_STOP_STRING, the tokens behind the stop string are not part of the text: keep
 * the sequence to the first ember_turn_n_kept() tokens of the reply (ember_context_truncate)
 * so that the next turn goes on from exactly the text handed on, as a session does. */
typedef struct ember_turn ember_turn;

typedef struct ember_turn_params {
    int32_t max_tokens;              /* most tokens; -1: no limit (the context's). Default 256 */
    const char* const* stop_strings; /* the reply ends before any of these; may be NULL */
    size_t n_stop_strings;
    const ember_token* end_tokens; /* tokens that end the reply like end-of-sequence; may be NULL */
    size_t n_end_tokens;
    /* A chat template whose end-of-turn markers end the reply (the markers that are one token
       become end tokens, all of them stop strings), as ember chat and ember serve do: a name
       or a template's text as in ember_chat_format, "" for the model's own; NULL (default):
       none. */
    const char* chat_template;
    bool ignore_eos;
    /* Structured output, as in ember_generate_params. Default NULL. */
    const char* grammar;
    const char* json_schema;
} ember_turn_params;

ember_turn_params ember_turn_default_params(void);

/* A turn on a model with a sampler; both must outlive it. A grammar or schema ember cannot use
 * fails with EMBER_ERROR_INVALID_ARGUMENT and the reason in error. params may be NULL. */
ember_status ember_turn_create(const ember_model* model, ember_sampler* sampler,
                               const ember_turn_params* params, ember_turn** out_turn, char* error,
                               size_t error_size);
void ember_turn_free(ember_turn* turn); /* NULL is fine */

/* One step from the next-token logits (ember_model_n_vocab values) after the sequence's last
 * token. *token: the new token, for the app to decode before the next step (-1 when the reply
 * ended without one); *text / *length: text to hand on (whole characters, never part of a stop
 * string; may be empty; valid until the next call on the turn); *stop_reason: EMBER_STOP_NONE,
 * or why the reply ended with this step (its text then includes whatever was held back).
 * A grammar that allows no token fails with EMBER_ERROR_INVALID_ARGUMENT. */
ember_status ember_turn_next(ember_turn* turn, const float* logits, ember_token* token,
                             const char** text, size_t* length, int32_t* stop_reason);
/* Ends the reply from outside with a reason (EMBER_STOP_CONTEXT_FULL when a decode has no
 * room, EMBER_STOP_CANCELLED, ...). *text / *length: what was held back, where the text ended
 * whole (EMBER_STOP_LIMIT, EMBER_STOP_CONTEXT_FULL, EMBER_STOP_END); empty otherwise. A reply
 * that ended already keeps its reason (EMBER_STOP_CALLBACK excepted). */
ember_status ember_turn_end(ember_turn* turn, int32_t stop_reason, const char** text,
                            size_t* length);
int32_t ember_turn_n_generated(const ember_turn* turn); /* tokens of the reply so far */
int32_t ember_turn_n_kept(const ember_turn* turn); /* of them, those whose text was handed on */
int32_t ember_turn_stop_reason(const ember_turn* turn); /* EMBER_STOP_NONE while it goes on */

/* ---- embeddings ---- */

/* Sentence vectors for semantic search: encoder models (bert, nomic-bert: MiniLM, bge, e5,
 * nomic-embed-text) and decoder models (their final hidden states, after the output norm).
 * An embedder packs many texts into each forward pass; each text attends only to itself. */
typedef struct ember_embedder ember_embedder;

typedef enum ember_pooling {
    EMBER_POOLING_DEFAULT = -1, /* the file's pooling_type; else mean (encoders), last (decoders) */
    EMBER_POOLING_MEAN = 1,     /* the average of the text's token states */
    EMBER_POOLING_CLS = 2,      /* the first token's state ([CLS]) */
    EMBER_POOLING_LAST = 3      /* the last token's state */
} ember_pooling;

typedef struct ember_embedder_params {
    int32_t n_ctx;     /* most tokens of one text and of one forward pass; 0: the training
                          context, at most 4096 */
    int32_t n_threads; /* 0: the physical cores this process may use */
    int32_t pooling;   /* an ember_pooling. Default EMBER_POOLING_DEFAULT */
    bool normalize;    /* L2-normalise each vector (dot product = cosine). Default true */
    bool truncate;     /* a text longer than n_ctx: true (default) uses its first n_ctx tokens,
                          keeping a closing [SEP]; false fails with EMBER_ERROR_CONTEXT_FULL */
} ember_embedder_params;

ember_embedder_params ember_embedder_default_params(void);

/* An embedder on a model (which must outlive it). params may be NULL. A model whose pooling_type
 * is "none" needs an explicit pooling here. */
ember_status ember_embedder_create(const ember_model* model, const ember_embedder_params* params,
                                   ember_embedder** out_embedder, char* error, size_t error_size);
void ember_embedder_free(ember_embedder* embedder); /* NULL is fine */

int32_t ember_embedder_dimension(const ember_embedder* embedder); /* floats per vector; 0: NULL */
int32_t ember_embedder_pooling(const ember_embedder* embedder);   /* the pooling in use */
bool ember_embedder_normalize(const ember_embedder* embedder);
int32_t ember_embedder_n_ctx(const ember_embedder* embedder);

/* Embeds n_texts NUL-terminated UTF-8 texts into out: n_texts x dimension floats, text after
 * text (capacity counts floats; EMBER_ERROR_BUFFER_TOO_SMALL if it is less than needed).
 * n_tokens, if not NULL, receives each text's token count as read (after truncation). Special
 * tokens ([CLS] ... [SEP], or BOS) are added; none are parsed inside the texts. */
ember_status ember_embed(ember_embedder* embedder, const char* const* texts, size_t n_texts,
                         float* out, size_t capacity, int32_t* n_tokens);

/* The same for token sequences (each used as given: add the special tokens yourself). */
ember_status ember_embed_tokens(ember_embedder* embedder, const ember_token* const* sequences,
                                const size_t* lengths, size_t n_sequences, float* out,
                                size_t capacity, int32_t* n_tokens);

/* Asks the embedder's running call to stop soon (it returns EMBER_ERROR_CANCELLED); any
 * thread, any time. */
void ember_embedder_cancel(ember_embedder* embedder);
/* A flag of the caller's for one call, as ember_session_watch_cancel. */
void ember_embedder_watch_cancel(ember_embedder* embedder, const int32_t* flag);

/* ---- chat ---- */

typedef struct ember_chat_message {
    const char* role; /* "system", "user" or "assistant" */
    const char* content;
} ember_chat_message;

/* Formats a conversation with a chat template: template_name (a built-in format: llama2,
 * llama2-sys, chatml, llama3, zephyr, mistral, mistral-v1, mistral-v3, mistral-v7, phi3, gemma;
 * or a Jinja template's own text, told by its "{{" or "{%": an app's template, another file's)
 * or NULL for the model's own: its Jinja tokenizer.chat_template, rendered as Hugging Face
 * transformers renders it (a leading BOS the tokenizer adds itself left out); a file without
 * one (or with one ember cannot parse) gets its family's format (chatml for qwen2, qwen3, lfm2,
 * smollm3; phi3; gemma for the gemmas), else ChatML. add_assistant_start ends the text with the
 * opening of the assistant's turn (add_generation_prompt). A template that refuses the
 * conversation (raise_exception) gives EMBER_ERROR_INVALID_ARGUMENT. Output as in
 * ember_detokenize. */
ember_status ember_chat_format(const ember_model* model, const char* template_name,
                               const ember_chat_message* messages, size_t n_messages,
                               bool add_assistant_start, char* text, size_t capacity,
                               size_t* length);

/* The same for conversations with tools and thinking, as JSON (UTF-8, NUL-terminated):
 * messages_json an array of OpenAI chat messages (roles system, user, assistant, tool; an
 * assistant's "tool_calls" [{"id", "type": "function", "function": {"name", "arguments"}}],
 * arguments an object or its JSON text; a tool message's "tool_call_id"; an assistant's
 * "reasoning_content"), tools_json an array of OpenAI tools ({"type": "function", "function":
 * {"name", "description", "parameters"}}) or NULL, variables_json an object of the template's
 * variables (e.g. {"enable_thinking": false}) or NULL. Only a Jinja template shows tools: tools
 * with a built-in format, JSON that does not parse or has another shape, or a template that
 * refuses the conversation give EMBER_ERROR_INVALID_ARGUMENT. Output as in ember_detokenize. */
ember_status ember_chat_format_json(const ember_model* model, const char* template_name,
                                    const char* messages_json, const char* tools_json,
                                    const char* variables_json, bool add_assistant_start,
                                    char* text, size_t capacity, size_t* length);

/* A finished reply read the way the chat template writes tool calls and thinking (the rule
 * ember serve follows): JSON {"content": "...", "reasoning_content": "..." (only when the
 * reply thought), "tool_calls": [{"name": "...", "arguments": {...}}, ...] ([] when none)}.
 * Calls are read in the template's family's format (Hermes/Qwen <tool_call>, Qwen3-Coder XML,
 * Llama 3 JSON, Mistral [TOOL_CALLS], else one JSON object); text that looks like a call but
 * does not read as one stays content. prompt: the text the reply continues (as
 * ember_chat_format_json gave it) or NULL; it says whether the reply begins inside a thinking
 * block the template opened. Output as in ember_detokenize. */
ember_status ember_chat_parse_reply(const ember_model* model, const char* template_name,
                                    const char* prompt, const char* reply, char* json,
                                    size_t capacity, size_t* length);

#ifdef __cplusplus
}
#endif

#endif /* EMBER_H */
