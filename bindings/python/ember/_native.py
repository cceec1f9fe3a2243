"""The C API of libember (include/ember.h) through ctypes: the library, its structs and the
signatures of the functions the Python API calls. Kept in the order of ember.h."""

import ctypes
import os
import sys
from ctypes import (CFUNCTYPE, POINTER, Structure, c_bool, c_char, c_char_p, c_double, c_float,
                    c_int32, c_size_t, c_uint64, c_void_p)

ABI_MAJOR = 0  # libember.so.0: the struct layouts below are this version's


def _candidates():
    """Where libember is looked for: $EMBER_LIBRARY, beside this package (an installed wheel
    carries it), the build tree of a checkout, then the system's library path."""
    explicit = os.environ.get("EMBER_LIBRARY")
    if explicit:
        yield explicit
        return
    here = os.path.dirname(os.path.abspath(__file__))
    for name in ("libember.so", f"libember.so.{ABI_MAJOR}", "libember.dylib"):
        yield os.path.join(here, name)
    checkout = os.path.normpath(os.path.join(here, "..", "..", "..", "build", "lib"))
    yield os.path.join(checkout, f"libember.so.{ABI_MAJOR}")
    yield f"libember.so.{ABI_MAJOR}"  # the dynamic loader's own search (LD_LIBRARY_PATH, ...)


def _load():
    tried = []
    for path in _candidates():
        if os.path.sep in path and not os.path.exists(path):
            tried.append(f"{path} (not there)")
            continue
        try:
            return ctypes.CDLL(path)
        except OSError as e:
            tried.append(f"{path} ({e})")
    raise ImportError("ember: libember.so not found; build it (cmake, EMBER_SHARED=ON, the "
                      "default) and set EMBER_LIBRARY to its path. Tried: " + "; ".join(tried))


lib = _load()

token = c_int32


class ModelParams(Structure):
    _fields_ = [("repack", c_int32)]


class SamplerParams(Structure):
    _fields_ = [("temperature", c_float), ("top_k", c_int32), ("top_p", c_float),
                ("min_p", c_float), ("repeat_penalty", c_float), ("frequency_penalty", c_float),
                ("presence_penalty", c_float), ("repeat_last_n", c_int32), ("seed", c_uint64)]


class SessionParams(Structure):
    _fields_ = [("n_ctx", c_int32), ("n_threads", c_int32), ("n_batch", c_int32),
                ("kv_type", c_int32), ("max_memory", c_uint64), ("sampling", SamplerParams),
                ("draft_model", c_void_p), ("draft_max", c_int32), ("draft_min", c_int32),
                ("draft_p_min", c_float), ("lookup", c_int32)]


class GenerateParams(Structure):
    _fields_ = [("n_predict", c_int32), ("stop_strings", POINTER(c_char_p)),
                ("n_stop_strings", c_size_t), ("ignore_eos", c_bool), ("context_shift", c_bool),
                ("n_keep", c_int32), ("max_tokens_per_second", c_float),
                ("thermal_limit_celsius", c_float), ("grammar", c_char_p),
                ("json_schema", c_char_p), ("chat_template", c_char_p)]


class GenerateStats(Structure):
    _fields_ = [("n_prompt_tokens", c_int32), ("prompt_ms", c_double),
                ("n_generated_tokens", c_int32), ("generate_ms", c_double),
                ("stop_reason", c_int32), ("thermal_slowdowns", c_int32),
                ("n_drafted", c_int32), ("n_accepted", c_int32)]


class EmbedderParams(Structure):
    _fields_ = [("n_ctx", c_int32), ("n_threads", c_int32), ("pooling", c_int32),
                ("normalize", c_bool), ("truncate", c_bool)]


# ember_status
OK, INVALID_ARGUMENT, FILE, FORMAT, CONTEXT_FULL, CANCELLED, BUFFER_TOO_SMALL = range(7)
OUT_OF_MEMORY, INTERNAL = 7, 8
# ember_stop_reason
STOP_NONE, STOP_END, STOP_STRING, STOP_LIMIT, STOP_CALLBACK = -1, 0, 1, 2, 3
STOP_CANCELLED, STOP_CONTEXT_FULL, STOP_TIMEOUT, STOP_ERROR = 4, 5, 6, 7
# ember_kv_type
KV_TYPES = {"f16": 0, "f32": 1, "q8_0": 2, "q4_0": 3}
# ember_pooling
POOLINGS = {None: -1, "mean": 1, "cls": 2, "last": 3}

TextCallback = CFUNCTYPE(c_bool, POINTER(c_char), c_size_t, c_void_p)
LogCallback = CFUNCTYPE(None, c_int32, c_char_p, c_void_p)

model_p = c_void_p
session_p = c_void_p
embedder_p = c_void_p


def _declare(name, restype, *argtypes):
    f = getattr(lib, name)
    f.restype = restype
    f.argtypes = list(argtypes)


_declare("ember_version", c_char_p)
_declare("ember_last_error", c_char_p)
_declare("ember_status_string", c_char_p, c_int32)
_declare("ember_set_log_callback", None, LogCallback, c_void_p)
_declare("ember_model_default_params", ModelParams)
_declare("ember_model_load", c_int32, c_char_p, POINTER(ModelParams), POINTER(model_p),
         c_char_p, c_size_t)
_declare("ember_model_free", None, model_p)
_declare("ember_model_n_vocab", c_int32, model_p)
_declare("ember_model_n_ctx_train", c_int32, model_p)
_declare("ember_model_bos", c_int32, model_p)
_declare("ember_model_eos", c_int32, model_p)
_declare("ember_tokenize", c_int32, model_p, c_char_p, c_size_t, c_bool, c_bool, POINTER(token),
         c_size_t, POINTER(c_size_t))
_declare("ember_detokenize", c_int32, model_p, POINTER(token), c_size_t, POINTER(c_char),
         c_size_t, POINTER(c_size_t))
_declare("ember_session_default_params", SessionParams)
_declare("ember_session_create", c_int32, model_p, POINTER(SessionParams), POINTER(session_p),
         c_char_p, c_size_t)
_declare("ember_session_free", None, session_p)
_declare("ember_session_set_prompt", c_int32, session_p, c_char_p, c_size_t,
         POINTER(SamplerParams))
_declare("ember_session_n_tokens", c_int32, session_p)
_declare("ember_session_n_ctx", c_int32, session_p)
_declare("ember_session_save_state", c_int32, session_p, c_void_p, c_size_t, POINTER(c_size_t))
_declare("ember_session_load_state", c_int32, session_p, c_void_p, c_size_t, c_char_p, c_size_t)
_declare("ember_generate_default_params", GenerateParams)
_declare("ember_grammar_check", c_int32, c_char_p, c_char_p, c_char_p, c_size_t)
_declare("ember_generate", c_int32, session_p, c_char_p, POINTER(GenerateParams), TextCallback,
         c_void_p, POINTER(GenerateStats))
_declare("ember_session_cancel", None, session_p)
_declare("ember_embedder_default_params", EmbedderParams)
_declare("ember_embedder_create", c_int32, model_p, POINTER(EmbedderParams), POINTER(embedder_p),
         c_char_p, c_size_t)
_declare("ember_embedder_free", None, embedder_p)
_declare("ember_embedder_dimension", c_int32, embedder_p)
_declare("ember_embed", c_int32, embedder_p, POINTER(c_char_p), c_size_t, POINTER(c_float),
         c_size_t, POINTER(c_int32))
_declare("ember_embedder_cancel", None, embedder_p)
_declare("ember_chat_format_json", c_int32, model_p, c_char_p, c_char_p, c_char_p, c_char_p,
         c_bool, POINTER(c_char), c_size_t, POINTER(c_size_t))
_declare("ember_chat_parse_reply", c_int32, model_p, c_char_p, c_char_p, c_char_p,
         POINTER(c_char), c_size_t, POINTER(c_size_t))

version = lib.ember_version().decode()
if int(version.split(".")[0]) != ABI_MAJOR:
    raise ImportError(f"ember: the library is version {version}, this module speaks "
                      f"libember.so.{ABI_MAJOR}")
if sys.byteorder != "little":  # GGUF files and ember's kernels are little-endian
    raise ImportError("ember: a little-endian CPU is needed")
