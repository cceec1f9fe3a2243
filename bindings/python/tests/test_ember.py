"""The Python binding against the engine's own answers: ember run's text, llama.cpp's
embeddings, the C API's errors. Run by CTest (PythonBinding) with Debian's pytest:
EMBER_LIBRARY names the built libember.so, EMBER_BIN the ember command, EMBER_DEFAULT_SHARED
the folder of models and references (../shared)."""

import json
import os
import re
import resource
import struct
import subprocess
import sys
import threading

import pytest

from ember import EmberError, Model

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
STORIES = os.path.join(ROOT, "models", "stories260K.gguf")
SHARED = os.environ.get("EMBER_DEFAULT_SHARED", os.path.join(ROOT, "..", "shared"))
EMBER_BIN = os.environ.get("EMBER_BIN", os.path.join(ROOT, "build", "bin", "ember"))


def shared(path):
    full = os.path.join(SHARED, path)
    if not os.path.exists(full):
        pytest.skip(f"{full} is not there")
    return full


def ember_run(*args):
    out = subprocess.run([EMBER_BIN, "run", *args], check=True, capture_output=True)
    return out.stdout.decode("utf-8", "replace")


@pytest.fixture(scope="module")
def stories():
    with Model(model_path=STORIES, n_ctx=512) as m:
        yield m


def test_completion_is_ember_runs_text(stories):
    text = stories.create_completion("Once upon a time", max_tokens=20,
                                     temperature=0)["choices"][0]["text"]
    assert text == ember_run("-m", STORIES, "-p", "Once upon a time", "-n", "20", "--temp", "0")
    assert len(text) > 40


def test_completion_shape(stories):
    r = stories("Once upon a time", max_tokens=7, temperature=0)
    assert r["object"] == "text_completion" and r["id"].startswith("cmpl-")
    assert r["choices"][0]["finish_reason"] == "length"
    assert r["usage"] == {"prompt_tokens": len(stories.tokenize(b"Once upon a time")),
                          "completion_tokens": 7,
                          "total_tokens": len(stories.tokenize(b"Once upon a time")) + 7}


def test_sampled_completion_follows_its_seed_not_the_history(stories):
    one = stories("Once upon a time", max_tokens=30, temperature=0.9, seed=7)
    stories("The dog ran", max_tokens=30, temperature=0.9, seed=8)  # another history between
    two = stories("Once upon a time", max_tokens=30, temperature=0.9, seed=7)
    other = stories("Once upon a time", max_tokens=30, temperature=0.9, seed=9)
    assert one["choices"][0]["text"] == two["choices"][0]["text"]
    assert one["choices"][0]["text"] != other["choices"][0]["text"]
    assert one["choices"][0]["text"] == ember_run("-m", STORIES, "-p", "Once upon a time", "-n",
                                                  "30", "--temp", "0.9", "--seed", "7")


def test_stop_strings(stories):
    full = stories("Once upon a time", max_tokens=40, temperature=0)["choices"][0]["text"]
    stop = "little"
    r = stories("Once upon a time", max_tokens=40, temperature=0, stop=[stop])
    assert r["choices"][0]["text"] == full[:full.index(stop)]
    assert r["choices"][0]["finish_reason"] == "stop"


def test_streaming_gives_the_same_text_in_pieces(stories):
    whole = stories("Once upon a time", max_tokens=30, temperature=0)["choices"][0]["text"]
    chunks = list(stories("Once upon a time", max_tokens=30, temperature=0, stream=True))
    assert len(chunks) > 10
    assert "".join(c["choices"][0]["text"] for c in chunks) == whole
    assert [c["choices"][0]["finish_reason"] for c in chunks[:-1]] == [None] * (len(chunks) - 1)
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"


def test_closing_the_stream_cancels_and_the_next_call_is_whole(stories):
    stream = stories("Once upon a time", max_tokens=400, temperature=0, stream=True)
    got = [next(stream)["choices"][0]["text"] for _ in range(3)]
    stream.close()  # cancels the generation mid-way
    assert len(got) == 3
    again = stories("Once upon a time", max_tokens=20, temperature=0)["choices"][0]["text"]
    assert again == ember_run("-m", STORIES, "-p", "Once upon a time", "-n", "20", "--temp", "0")


def test_cancel_from_another_thread_ends_a_long_reply(stories):
    # The whole context takes this model some 20 ms, so one cancel after a fixed delay can come
    # too late (or, before the reply starts, be forgotten by it): another thread cancels every
    # millisecond until the reply has returned (which may be before its first token).
    replied = threading.Event()

    def cancel_until_replied():
        while not replied.wait(0.001):
            stories.cancel()

    canceller = threading.Thread(target=cancel_until_replied)
    canceller.start()
    try:
        r = stories("Once upon a time", max_tokens=0, temperature=0)  # until the context is full
    finally:
        replied.set()
        canceller.join()
    assert r["choices"][0]["finish_reason"] == "stop"
    assert 0 <= r["usage"]["completion_tokens"] < stories.n_ctx()


def test_json_schema_reply_is_valid():
    schema = {"type": "object",
              "properties": {"name": {"type": "string", "maxLength": 12},
                             "age": {"type": "integer", "minimum": 0, "maximum": 99}},
              "required": ["name", "age"], "additionalProperties": False}
    with Model(model_path=STORIES, n_ctx=256, seed=3) as m:
        r = m.create_completion("Once upon a time", max_tokens=100, temperature=0.8,
                                response_format={"type": "json_schema",
                                                 "json_schema": {"schema": schema}})
    assert r["choices"][0]["finish_reason"] == "stop"
    value = json.loads(r["choices"][0]["text"])
    assert set(value) == {"name", "age"}
    assert isinstance(value["name"], str) and len(value["name"]) <= 12
    assert isinstance(value["age"], int) and 0 <= value["age"] <= 99


def test_errors_carry_embers_message(stories):
    with pytest.raises(EmberError, match="/nonexistent/model.gguf"):
        Model(model_path="/nonexistent/model.gguf")
    with pytest.raises(EmberError, match=r"grammar.*line 1"):
        stories("Once", max_tokens=5, grammar="root ::= (")
    with pytest.raises(EmberError, match="json schema"):
        stories("Once", max_tokens=5, response_format={"type": "json_object",
                                                       "schema": {"type": "nonsense"}})
    with Model(model_path=STORIES, n_ctx=32) as small:
        with pytest.raises(EmberError, match="context") as error:
            small("Once upon a time " * 20, max_tokens=5)
        assert error.value.status == 4  # EMBER_ERROR_CONTEXT_FULL
    with pytest.raises(TypeError):
        stories("Once", max_tokens=5, logprobs=3)  # not honoured: refused, not dropped
    # Values that cross as C strings: a NUL would cut them short, so it is refused.
    with pytest.raises(ValueError, match="stop contains a NUL"):
        stories("Once", max_tokens=5, stop=["a\0b"])
    with pytest.raises(ValueError, match="input contains a NUL"):
        stories.embed("a\0b")
    assert stories("Once\0upon", max_tokens=2, temperature=0)["usage"]["completion_tokens"] == 2
    with pytest.raises(ValueError, match="tool_choice"):
        stories.create_chat_completion([{"role": "user", "content": "hi"}],
                                       tool_choice="required")


def test_closed_model_raises():
    m = Model(model_path=STORIES, n_ctx=64)
    m.close()
    with pytest.raises(EmberError, match="closed"):
        m("Once", max_tokens=2)


def test_chat_reply_is_ember_runs_chat():
    path = shared("arch2/models/mini-qwen3-Q8_0.gguf")
    with Model(model_path=path, n_ctx=512) as m:
        messages = [{"role": "system", "content": "Be brief."},
                    {"role": "user", "content": "Hi there"}]
        pieces = [c["choices"][0]["delta"].get("content", "")
                  for c in m.create_chat_completion(messages, max_tokens=30, temperature=0,
                                                    stream=True)]
        whole = m.create_chat_completion(messages, max_tokens=30, temperature=0)
    expected = ember_run("-m", path, "--chat", "--system", "Be brief.", "-p", "Hi there", "-n",
                         "30", "--temp", "0")
    assert "".join(pieces) == expected
    assert whole["object"] == "chat.completion"
    message = whole["choices"][0]["message"]
    assert message["role"] == "assistant"
    assert message["content"] == expected  # no thinking or tool-call markup in this reply


def test_tool_calls_come_back_as_openai_tool_calls():
    path = shared("arch2/models/mini-qwen3-Q8_0.gguf")
    tools = [{"type": "function", "function": {
        "name": "get_weather", "description": "The weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                       "required": ["city"]}}}]
    call = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
    grammar = "root ::= " + json.dumps(call)  # the tiny model writes the call it is made to
    template = open(shared("templates/templates/Qwen-Qwen2.5-7B-Instruct.jinja")).read()
    with Model(model_path=path, n_ctx=1024, chat_format=template) as m:
        r = m.create_chat_completion([{"role": "user", "content": "Weather in Paris?"}],
                                     tools=tools, grammar=grammar, max_tokens=60,
                                     temperature=0)
        chunks = list(m.create_chat_completion([{"role": "user", "content": "Weather?"}],
                                               tools=tools, grammar=grammar, max_tokens=60,
                                               temperature=0, stream=True))
    choice = r["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    (tool_call,) = choice["message"]["tool_calls"]
    assert tool_call["type"] == "function" and tool_call["id"].startswith("call_")
    assert tool_call["function"]["name"] == "get_weather"
    assert json.loads(tool_call["function"]["arguments"]) == {"city": "Paris"}
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"
    streamed = [c for c in chunks if "tool_calls" in c["choices"][0]["delta"]]
    assert streamed[0]["choices"][0]["delta"]["tool_calls"][0]["function"]["name"] == \
        "get_weather"


def test_embeddings_are_llama_cpps():
    path = shared("arch/models/mini-bert-F16.gguf")
    reference = json.load(open(shared("arch/reference/mini-bert-F16.json")))
    raw = open(shared("arch/reference/mini-bert-F16.embd.f32"), "rb").read()
    texts = reference["texts"]
    dim = len(raw) // 4 // len(texts)
    want = struct.unpack(f"<{len(raw) // 4}f", raw)
    with Model(model_path=path, embedding=True) as m:
        got = m.embed(texts)
        one = m.embed(texts[0])
        response = m.create_embedding(texts[:2])
        with pytest.raises(EmberError, match="embedding=True"):
            m("text", max_tokens=2)
    assert len(got) == len(texts) and all(len(v) == dim for v in got)
    for i, vector in enumerate(got):
        ref = want[i * dim:(i + 1) * dim]
        norm = sum(x * x for x in ref) ** 0.5
        cosine = sum(a * b / norm for a, b in zip(vector, ref))
        assert cosine > 0.999, (i, cosine)
    assert one == pytest.approx(got[0], abs=1e-4)  # alone or in a batch: other sums
    assert [d["index"] for d in response["data"]] == [0, 1]
    assert response["data"][1]["embedding"] == pytest.approx(got[1], abs=1e-4)
    assert response["usage"]["prompt_tokens"] == sum(len(t) for t in reference["token_ids"][:2])
    with pytest.raises(EmberError, match="embedding=True"):
        Model(model_path=path)


def test_saved_state_goes_on_as_the_original(stories):
    stories("Once upon a time", max_tokens=10, temperature=0)
    state = stories.save_state()
    with Model(model_path=STORIES, n_ctx=512) as other:
        other.load_state(state)
        assert other.save_state() == state
    with pytest.raises(EmberError, match="state"):
        stories.load_state(state[:100])


def test_tokenize_round_trip(stories):
    tokens = stories.tokenize(b"Once upon a time")
    assert tokens[0] == stories.token_bos()
    assert stories.detokenize(tokens[1:]) == b"Once upon a time"
    assert stories.tokenize("Once upon a time", add_bos=False) == tokens[1:]


def rss_kib():
    with open("/proc/self/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


def test_a_thousand_models_do_not_leak():
    def one_round():
        with Model(model_path=STORIES, n_ctx=64) as m:
            m("Once", max_tokens=2, temperature=0)
            m.embed("Once")

    for _ in range(100):  # the allocator's and Python's caches settle first
        one_round()
    before = rss_kib()
    for _ in range(1000):
        one_round()
    grown = rss_kib() - before
    if os.environ.get("EMBER_SANITIZED") == "1":
        return  # ASan keeps freed memory in quarantine; it checks each access instead
    assert grown < 4096, f"RSS grew {grown} KiB over 1000 models"
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss > 0


def test_readme_example_runs_after_pip_install(tmp_path):
    """pip installs the package offline into a fresh virtual environment (the wheel carries
    libember.so), and the README's example prints ember run's story there."""
    if os.environ.get("EMBER_SANITIZED") == "1":
        pytest.skip("pip under the sanitizers' runtimes: the release build's test covers it")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env = dict(os.environ, PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    env.pop("EMBER_LIBRARY", None)  # the wheel's own copy must be found
    library = os.environ.get("EMBER_LIBRARY", "")
    build_env = dict(env, EMBER_LIBRARY=os.path.abspath(library) if library else "")
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", os.path.dirname(HERE)],
                   check=True, env=build_env)
    readme = open(os.path.join(os.path.dirname(HERE), "README.md")).read()
    example = re.search(r"```python\n(.*?)```", readme, re.S).group(1)
    assert len(example.strip().splitlines()) <= 10
    out = subprocess.run([str(venv / "bin" / "python"), "-c", example], cwd=ROOT, env=env,
                         check=True, capture_output=True, timeout=120).stdout.decode()
    story = ember_run("-m", STORIES, "-p", "Once upon a time", "-n", "20", "--temp", "0")
    lines = out.splitlines()
    assert lines[0] == story
    assert len(lines[1]) > 20

