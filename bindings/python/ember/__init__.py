"""ember for Python: local text generation, chat and embeddings from a GGUF file, on the CPU.

    from ember import Model
    m = Model(model_path="models/stories260K.gguf", n_ctx=512)
    m.create_completion("Once upon a time", max_tokens=20, temperature=0)["choices"][0]["text"]

The calls and their results have the shape of llama-cpp-python's `Llama` (which has the shape of
OpenAI's API), so code written for it ports by changing the import and the class name. What is
not here is refused (an unknown keyword is a TypeError), never ignored: see
docs/bindings.md.
"""

import ctypes
import json
import os
import queue
import threading
import time
import uuid
import warnings

from . import _native as _n

__all__ = ["Model", "EmberError", "__version__"]
__version__ = _n.version


class EmberError(RuntimeError):
    """A failed call, with ember's message ("mini.gguf: not a GGUF file", "grammar: line 2, ...")
    and its ember_status as `.status`."""

    def __init__(self, message, status=_n.INTERNAL):
        super().__init__(message)
        self.status = status


def _error(status, message=None):
    if not message:
        message = _n.lib.ember_last_error().decode("utf-8", "replace")
    if not message:
        message = _n.lib.ember_status_string(status).decode()
    return EmberError(message, status)


def _check(status):
    if status != _n.OK:
        raise _error(status)


def _bytes(text, what, c_string=False):
    """text as UTF-8 bytes. c_string: it crosses as a NUL-terminated C string, so a NUL inside
    would cut it short without a word: refused instead."""
    if isinstance(text, str):
        text = text.encode("utf-8")
    elif not isinstance(text, bytes):
        raise TypeError(f"{what} must be str or bytes, not {type(text).__name__}")
    if c_string and b"\0" in text:
        raise ValueError(f"{what} contains a NUL character")
    return text


def _read_out(call):
    """Runs call(buffer, capacity, &length) twice at most: the second time with the size the
    first asked for (EMBER_ERROR_BUFFER_TOO_SMALL)."""
    capacity = 4096
    while True:
        buffer = ctypes.create_string_buffer(capacity)
        length = ctypes.c_size_t(0)
        status = call(buffer, capacity, ctypes.byref(length))
        if status == _n.BUFFER_TOO_SMALL and length.value > capacity:
            capacity = length.value
            continue
        _check(status)
        return buffer.raw[:length.value]


_FINISH = {_n.STOP_END: "stop", _n.STOP_STRING: "stop", _n.STOP_LIMIT: "length",
           _n.STOP_CONTEXT_FULL: "length", _n.STOP_CALLBACK: "stop", _n.STOP_CANCELLED: "stop"}


class Model:
    """A model file loaded for generation and embeddings, with one conversation's context.

    One call runs at a time on a Model (a second one from another thread waits); `cancel()`
    may be called from any thread. Close it (or use `with`) to free its memory at once.
    """

    def __init__(self, model_path, *, n_ctx=512, n_batch=512, n_threads=None, seed=None,
                 kv_type="f16", repack=True, chat_format=None, draft_model_path=None,
                 draft_max=16, lookup=0, embedding=False, verbose=False, n_gpu_layers=0):
        """model_path: a GGUF file. n_ctx: context size in tokens (0: the model's training
        context, at most 4096). n_threads: None for the fast physical cores. seed: the random
        seed of every call that does not give its own (None: a new one each call). kv_type:
        "f16", "f32", "q8_0" or "q4_0". chat_format: the chat template of
        create_chat_completion (a built-in name such as "chatml", a Jinja template's text, or
        None for the file's own). draft_model_path / lookup: speculative decoding (the same
        text, sooner), as `ember run --draft-model / --lookup`. embedding: for embeddings only
        (an encoder such as bert needs it; generation then raises). verbose: ember's log lines on
        stderr. n_gpu_layers: accepted for llama-cpp-python's code; ember runs on the CPU, and
        a value other than 0 warns so."""
        self._model = None
        self._session = None
        self._embedder = None
        self._draft = None
        self._lock = threading.Lock()  # one call at a time
        self._free_lock = threading.Lock()  # cancel() (any thread) against close()'s frees
        if n_gpu_layers:
            warnings.warn("ember runs on the CPU: n_gpu_layers is not used", RuntimeWarning,
                          stacklevel=2)
        if kv_type not in _n.KV_TYPES:
            raise ValueError(f"kv_type must be one of {sorted(_n.KV_TYPES)}, not {kv_type!r}")
        if verbose:
            _enable_logging()
        self.model_path = os.fspath(model_path)
        _bytes(self.model_path, "model_path", c_string=True)
        self._seed = seed
        self._chat_format = chat_format
        self._n_threads = n_threads or 0
        self._n_ctx = _non_negative(n_ctx, "n_ctx")
        params = _n.lib.ember_model_default_params()
        params.repack = 1 if repack else 0
        self._model = self._load(self.model_path, params)
        if draft_model_path is not None:
            self._draft = self._load(os.fspath(draft_model_path), params)
        sp = _n.lib.ember_session_default_params()
        self._sampler_defaults = sp.sampling
        if embedding:
            return
        sp.n_ctx = self._n_ctx
        sp.n_batch = _non_negative(n_batch, "n_batch")
        sp.n_threads = _non_negative(self._n_threads, "n_threads")
        sp.kv_type = _n.KV_TYPES[kv_type]
        if self._draft is not None:
            sp.draft_model = self._draft
            sp.draft_max = draft_max
        sp.lookup = _non_negative(lookup, "lookup")
        error = ctypes.create_string_buffer(1024)
        session = _n.session_p()
        status = _n.lib.ember_session_create(self._model, ctypes.byref(sp),
                                             ctypes.byref(session), error, len(error))
        if status != _n.OK:
            self.close()
            message = error.value.decode("utf-8", "replace")
            if "encoder" in message:
                message += " (load it with Model(..., embedding=True))"
            raise _error(status, message)
        self._session = session

    @staticmethod
    def _load(path, params):
        error = ctypes.create_string_buffer(1024)
        model = _n.model_p()
        status = _n.lib.ember_model_load(path.encode(), ctypes.byref(params), ctypes.byref(model),
                                         error, len(error))
        if status != _n.OK:
            raise _error(status, error.value.decode("utf-8", "replace"))
        return model

    # ---- lifetime ----

    def close(self):
        """Frees the model, its context and its embedder (later calls raise EmberError)."""
        with self._lock, self._free_lock:
            _n.lib.ember_embedder_free(self._embedder)
            _n.lib.ember_session_free(self._session)
            _n.lib.ember_model_free(self._draft)
            _n.lib.ember_model_free(self._model)
            self._embedder = self._session = self._draft = self._model = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        if getattr(self, "_lock", None) is not None:
            self.close()

    def _live(self):
        if self._model is None:
            raise EmberError("the model is closed", _n.INVALID_ARGUMENT)

    def _generating(self):
        self._live()
        if self._session is None:
            raise EmberError("this Model was created with embedding=True: it makes embeddings, "
                             "not text", _n.INVALID_ARGUMENT)

    def cancel(self):
        """Stops the running call soon (from any thread): a generation ends with the text so
        far (finish_reason "stop"; none yet if it was still reading its prompt), an embedding
        raises EmberError."""
        with self._free_lock:
            if self._session is not None:
                _n.lib.ember_session_cancel(self._session)
            if self._embedder is not None:
                _n.lib.ember_embedder_cancel(self._embedder)

    # ---- the model ----

    def n_ctx(self):
        self._live()
        if self._session is None:
            return self._n_ctx
        return _n.lib.ember_session_n_ctx(self._session)

    def n_vocab(self):
        self._live()
        return _n.lib.ember_model_n_vocab(self._model)

    def token_bos(self):
        return _n.lib.ember_model_bos(self._model)

    def token_eos(self):
        return _n.lib.ember_model_eos(self._model)

    def tokenize(self, text, add_bos=True, special=False):
        """Text (bytes or str) to token ids; add_bos: the special tokens the vocabulary adds;
        special: control tokens written in the text become their ids."""
        self._live()
        data = _bytes(text, "text")
        capacity = len(data) + 8
        while True:
            tokens = (_n.token * capacity)()
            n = ctypes.c_size_t(0)
            status = _n.lib.ember_tokenize(self._model, data, len(data), add_bos, special, tokens,
                                           capacity, ctypes.byref(n))
            if status == _n.BUFFER_TOO_SMALL:
                capacity = n.value
                continue
            _check(status)
            return list(tokens[:n.value])

    def detokenize(self, tokens):
        """Token ids to their text, as UTF-8 bytes."""
        self._live()
        array = (_n.token * len(tokens))(*tokens)
        return _read_out(lambda buf, cap, length: _n.lib.ember_detokenize(
            self._model, array, len(tokens), buf, cap, length))

    # ---- text completion ----

    def create_completion(self, prompt, *, max_tokens=16, temperature=0.8, top_p=0.95,
                          min_p=0.05, top_k=40, stop=None, seed=None, repeat_penalty=1.0,
                          frequency_penalty=0.0, presence_penalty=0.0, grammar=None,
                          response_format=None, stream=False):
        """Continues prompt. Returns an OpenAI "text_completion" dict, or with stream=True an
        iterator of its chunks (closing the iterator stops the generation).

        max_tokens: None or <= 0 for until the context is full. stop: a string or a list.
        grammar: GBNF text (the reply follows it); response_format: {"type": "json_object"}
        with an optional "schema", or OpenAI's {"type": "json_schema", "json_schema": {"schema":
        ...}}: the reply is JSON valid under it."""
        self._generating()
        prompt_bytes = _bytes(prompt, "prompt")
        job = _Job(self, prompt_bytes, max_tokens, stop, grammar,
                   _schema_of(response_format),
                   self._sampling(temperature, top_p, min_p, top_k, seed, repeat_penalty,
                                  frequency_penalty, presence_penalty), chat_template=None)
        head = {"id": "cmpl-" + uuid.uuid4().hex, "object": "text_completion",
                "created": int(time.time()), "model": self.model_path}
        if stream:
            return self._stream_completion(job, head)
        text, reason = job.run()
        return dict(head, choices=[{"text": text, "index": 0, "logprobs": None,
                                    "finish_reason": reason}], usage=job.usage())

    __call__ = create_completion

    def _stream_completion(self, job, head):
        for piece in job.stream():
            yield dict(head, choices=[{"text": piece, "index": 0, "logprobs": None,
                                       "finish_reason": None}])
        yield dict(head, choices=[{"text": "", "index": 0, "logprobs": None,
                                   "finish_reason": job.finish_reason}])

    # ---- chat ----

    def create_chat_completion(self, messages, *, tools=None, tool_choice=None,
                               response_format=None, grammar=None, max_tokens=None, temperature=0.2,
                               top_p=0.95, min_p=0.05, top_k=40, stop=None, seed=None,
                               repeat_penalty=1.0, frequency_penalty=0.0, presence_penalty=0.0,
                               stream=False, chat_template_kwargs=None):
        """A reply to OpenAI chat messages (roles system, user, assistant, tool), formatted with
        the model's chat template. Returns an OpenAI "chat.completion" dict (the reply's
        thinking in message["reasoning_content"], its tool calls in message["tool_calls"]), or
        with stream=True an iterator of "chat.completion.chunk" dicts.

        tools: OpenAI function tools, shown through the template; tool_choice: "auto" (the
        default) or "none". response_format and grammar: as in create_completion. chat_template_kwargs: the template's variables, such as
        {"enable_thinking": False}. Streaming sends the text as it comes, thinking and tool
        calls included as the model writes them; the last chunk carries the tool calls read
        from it."""
        self._generating()
        if tool_choice not in (None, "auto", "none"):
            raise ValueError("tool_choice: ember supports \"auto\" and \"none\", not "
                             f"{tool_choice!r}")
        if tool_choice == "none":
            tools = None
        template = (_bytes(self._chat_format, "chat_format", c_string=True)
                    if self._chat_format else None)
        messages_json = json.dumps(messages).encode()
        tools_json = json.dumps(tools).encode() if tools else None
        variables = json.dumps(chat_template_kwargs).encode() if chat_template_kwargs else None
        prompt = _read_out(lambda buf, cap, length: _n.lib.ember_chat_format_json(
            self._model, template, messages_json, tools_json, variables, True, buf, cap, length))
        job = _Job(self, prompt, max_tokens, stop, grammar, _schema_of(response_format),
                   self._sampling(temperature, top_p, min_p, top_k, seed, repeat_penalty,
                                  frequency_penalty, presence_penalty),
                   chat_template=template or b"")
        head = {"id": "chatcmpl-" + uuid.uuid4().hex, "created": int(time.time()),
                "model": self.model_path}
        if stream:
            return self._stream_chat(job, head, template, prompt)
        text, reason = job.run()
        message, reason = self._read_reply(template, prompt, text, reason)
        return dict(head, object="chat.completion",
                    choices=[{"index": 0, "message": message, "logprobs": None,
                              "finish_reason": reason}], usage=job.usage())

    def _read_reply(self, template, prompt, text, reason):
        parsed = json.loads(_read_out(lambda buf, cap, length: _n.lib.ember_chat_parse_reply(
            self._model, template, prompt, text.encode(), buf, cap, length)))
        message = {"role": "assistant", "content": parsed["content"]}
        if "reasoning_content" in parsed:
            message["reasoning_content"] = parsed["reasoning_content"]
        if parsed["tool_calls"]:
            message["content"] = parsed["content"] or None
            message["tool_calls"] = [
                {"id": "call_" + uuid.uuid4().hex[:24], "type": "function",
                 "function": {"name": c["name"], "arguments": json.dumps(c["arguments"])}}
                for c in parsed["tool_calls"]]
            reason = "tool_calls"
        return message, reason

    def _stream_chat(self, job, head, template, prompt):
        def chunk(delta, reason=None):
            return dict(head, object="chat.completion.chunk",
                        choices=[{"index": 0, "delta": delta, "logprobs": None,
                                  "finish_reason": reason}])

        yield chunk({"role": "assistant"})
        pieces = []
        for piece in job.stream():
            pieces.append(piece)
            yield chunk({"content": piece})
        message, reason = self._read_reply(template, prompt, "".join(pieces), job.finish_reason)
        if "tool_calls" in message:
            calls = [dict(c, index=i) for i, c in enumerate(message["tool_calls"])]
            yield chunk({"tool_calls": calls})
        yield chunk({}, reason)

    # ---- embeddings ----

    def embed(self, input, *, normalize=True, truncate=True):
        """A sentence vector for a text (a list of floats), or one per text for a list of
        texts. normalize: unit length (dot product = cosine); truncate: a text longer than the
        context uses its first tokens (False: EmberError)."""
        self._live()
        texts = [input] if isinstance(input, (str, bytes)) else list(input)
        vectors, _ = self._embed(texts, normalize, truncate)
        return vectors[0] if isinstance(input, (str, bytes)) else vectors

    def create_embedding(self, input, *, normalize=True, truncate=True):
        """OpenAI's embeddings response for a text or a list of texts."""
        self._live()
        texts = [input] if isinstance(input, (str, bytes)) else list(input)
        vectors, n_tokens = self._embed(texts, normalize, truncate)
        return {"object": "list", "model": self.model_path,
                "data": [{"object": "embedding", "embedding": v, "index": i}
                         for i, v in enumerate(vectors)],
                "usage": {"prompt_tokens": n_tokens, "total_tokens": n_tokens}}

    def _embed(self, texts, normalize, truncate):
        if not texts:
            return [], 0
        data = [_bytes(t, "input", c_string=True) for t in texts]
        with self._lock:
            self._live()
            key = (bool(normalize), bool(truncate))
            if self._embedder is None or self._embedder_key != key:
                with self._free_lock:
                    _n.lib.ember_embedder_free(self._embedder)
                    self._embedder = None
                params = _n.lib.ember_embedder_default_params()
                params.n_ctx = self._n_ctx
                params.n_threads = self._n_threads
                params.normalize, params.truncate = key
                error = ctypes.create_string_buffer(1024)
                embedder = _n.embedder_p()
                status = _n.lib.ember_embedder_create(self._model, ctypes.byref(params),
                                                      ctypes.byref(embedder), error, len(error))
                if status != _n.OK:
                    raise _error(status, error.value.decode("utf-8", "replace"))
                self._embedder, self._embedder_key = embedder, key
            dim = _n.lib.ember_embedder_dimension(self._embedder)
            texts_c = (ctypes.c_char_p * len(data))(*data)
            out = (ctypes.c_float * (dim * len(data)))()
            n_tokens = (ctypes.c_int32 * len(data))()
            _check(_n.lib.ember_embed(self._embedder, texts_c, len(data), out, len(out),
                                      n_tokens))
        flat = list(out)
        return [flat[i * dim:(i + 1) * dim] for i in range(len(data))], sum(n_tokens)

    # ---- saved state ----

    def save_state(self):
        """The conversation's whole state as bytes (its tokens, cache and sampler)."""
        with self._lock:
            self._generating()
            return _read_out(lambda buf, cap, length: _n.lib.ember_session_save_state(
                self._session, buf, cap, length))

    def load_state(self, state):
        """Restores what save_state() gave, on the same model file and kv_type."""
        with self._lock:
            self._generating()
            error = ctypes.create_string_buffer(1024)
            status = _n.lib.ember_session_load_state(self._session, state, len(state), error,
                                                     len(error))
            if status != _n.OK:
                raise _error(status, error.value.decode("utf-8", "replace"))

    # ---- helpers ----

    def _sampling(self, temperature, top_p, min_p, top_k, seed, repeat_penalty,
                  frequency_penalty, presence_penalty):
        s = _n.SamplerParams.from_buffer_copy(self._sampler_defaults)
        s.temperature = temperature
        s.top_p = top_p
        s.min_p = min_p
        s.top_k = top_k
        s.repeat_penalty = repeat_penalty
        s.frequency_penalty = frequency_penalty
        s.presence_penalty = presence_penalty
        if seed is None:
            seed = self._seed
        if seed is None:
            seed = int.from_bytes(os.urandom(8), "little")
        if not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, not {seed!r}")
        s.seed = seed & 0xFFFFFFFFFFFFFFFF
        return s


class _Job:
    """One reply: the prompt set (its cached start reused), then ember_generate, run here or
    on a thread for streaming."""

    def __init__(self, model, prompt, max_tokens, stop, grammar, schema, sampling,
                 chat_template):
        if stop is None:
            stop = []
        elif isinstance(stop, (str, bytes)):
            stop = [stop]
        if grammar is not None and schema is not None:
            raise ValueError("give grammar or response_format, not both")
        self.model = model
        self.prompt = prompt
        self.sampling = sampling
        self._stops = [_bytes(s, "stop", c_string=True) for s in stop if s]
        self._stop_array = (ctypes.c_char_p * max(1, len(self._stops)))(*self._stops)
        params = _n.lib.ember_generate_default_params()
        params.n_predict = max_tokens if max_tokens is not None and max_tokens > 0 else -1
        params.stop_strings = self._stop_array
        params.n_stop_strings = len(self._stops)
        self._grammar = _bytes(grammar, "grammar", c_string=True) if grammar is not None else None
        self._schema = schema
        params.grammar = self._grammar
        params.json_schema = schema
        params.chat_template = chat_template
        self.params = params
        self.stats = _n.GenerateStats()
        self.finish_reason = None
        self.n_prompt = 0

    def _generate(self, on_text):
        """Runs on whichever thread calls it; returns (status, message)."""
        session = self.model._session
        status = _n.lib.ember_session_set_prompt(session, self.prompt, len(self.prompt),
                                                 ctypes.byref(self.sampling))
        if status == _n.OK:
            self.n_prompt = _n.lib.ember_session_n_tokens(session)
            callback = _n.TextCallback(
                lambda text, length, _: on_text(ctypes.string_at(text, length)))
            status = _n.lib.ember_generate(session, None, ctypes.byref(self.params), callback,
                                           None, ctypes.byref(self.stats))
        message = _n.lib.ember_last_error().decode("utf-8", "replace") if status else ""
        return status, message

    def _check_grammar(self):
        if self._grammar is None and self._schema is None:
            return
        error = ctypes.create_string_buffer(1024)
        status = _n.lib.ember_grammar_check(self._grammar, self._schema, error, len(error))
        if status != _n.OK:
            raise _error(status, error.value.decode("utf-8", "replace"))

    def run(self):
        self._check_grammar()
        pieces = []

        def on_text(data):
            pieces.append(data)
            return True

        with self.model._lock:
            self.model._generating()
            status, message = self._generate(on_text)
        if status == _n.CANCELLED:  # cancel() while it read its prompt: no token yet
            self.finish_reason = "stop"
            return "", self.finish_reason
        if status != _n.OK:
            raise _error(status, message)
        self.finish_reason = _FINISH.get(self.stats.stop_reason, "stop")
        return b"".join(pieces).decode("utf-8", "replace"), self.finish_reason

    def stream(self):
        """Yields the text as it comes; closing the generator cancels the generation."""
        self._check_grammar()
        pieces = queue.Queue()
        done = object()
        closed = threading.Event()
        outcome = {}

        def on_text(data):
            if closed.is_set():
                return False
            pieces.put(data.decode("utf-8", "replace"))
            return True

        def work():
            try:
                outcome["result"] = self._generate(on_text)
            finally:
                self.model._lock.release()
                pieces.put(done)

        self.model._lock.acquire()
        try:
            self.model._generating()
        except BaseException:
            self.model._lock.release()
            raise
        worker = threading.Thread(target=work, name="ember-generate", daemon=True)
        worker.start()
        try:
            while True:
                piece = pieces.get()
                if piece is done:
                    break
                yield piece
        finally:
            if worker.is_alive():
                closed.set()
                _n.lib.ember_session_cancel(self.model._session)
                worker.join()
        status, message = outcome["result"]
        if status not in (_n.OK, _n.CANCELLED):  # CANCELLED: cancel() during the prompt
            raise _error(status, message)
        self.finish_reason = _FINISH.get(self.stats.stop_reason, "stop")

    def usage(self):
        n_generated = self.stats.n_generated_tokens
        return {"prompt_tokens": self.n_prompt, "completion_tokens": n_generated,
                "total_tokens": self.n_prompt + n_generated}


def _schema_of(response_format):
    """response_format to the JSON schema text ember_generate takes (None: free text)."""
    if response_format is None:
        return None
    if not isinstance(response_format, dict):
        raise TypeError("response_format must be a dict")
    kind = response_format.get("type")
    if kind == "text":
        return None
    if kind == "json_object":
        return json.dumps(response_format.get("schema") or {"type": "object"}).encode()
    if kind == "json_schema":
        spec = response_format.get("json_schema") or {}
        if "schema" not in spec:
            raise ValueError("response_format json_schema needs json_schema.schema")
        return json.dumps(spec["schema"]).encode()
    raise ValueError(f"response_format type {kind!r}: ember takes text, json_object and "
                     "json_schema")


def _non_negative(value, name):
    if not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, not {value!r}")
    return value


_log_callback = None


def _enable_logging():
    """ember's log lines on stderr (Model(verbose=True)); process-wide, as in ember.h."""
    global _log_callback
    if _log_callback is not None:
        return
    import sys
    names = {0: "debug", 1: "info", 2: "warn", 3: "error"}

    def log(level, message, _):
        sys.stderr.write(f"ember {names.get(level, level)}: {message.decode('utf-8', 'replace')}"
                         "\n")

    _log_callback = _n.LogCallback(log)
    _n.lib.ember_set_log_callback(_log_callback, None)
