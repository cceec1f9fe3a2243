package dev.ember;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * How one reply is generated: its length, sampling, stop strings and structured output. Fluent
 * setters; the defaults are ember's (llama.cpp's): temperature 0.8, top-k 40, top-p 0.95,
 * min-p 0.05, no penalties, seed 0, up to 256 tokens.
 */
public final class GenerateParams {
    int maxTokens = 256;
    float temperature = 0.8f;
    int topK = 40;
    float topP = 0.95f;
    float minP = 0.05f;
    float repeatPenalty = 1.0f;
    float frequencyPenalty = 0.0f;
    float presencePenalty = 0.0f;
    int repeatLastN = 64;
    long seed = 0;
    final List<String> stop = new ArrayList<>();
    String grammar;
    String jsonSchema;
    float maxTokensPerSecond = 0;
    float thermalLimitCelsius = 0;

    /** Most tokens; -1: until the context is full. */
    public GenerateParams maxTokens(int n) { maxTokens = n; return this; }
    /** 0: greedy (the most likely token every time). */
    public GenerateParams temperature(float t) { temperature = t; return this; }
    public GenerateParams topK(int k) { topK = k; return this; }
    public GenerateParams topP(float p) { topP = p; return this; }
    public GenerateParams minP(float p) { minP = p; return this; }
    public GenerateParams repeatPenalty(float p) { repeatPenalty = p; return this; }
    public GenerateParams frequencyPenalty(float p) { frequencyPenalty = p; return this; }
    public GenerateParams presencePenalty(float p) { presencePenalty = p; return this; }
    public GenerateParams repeatLastN(int n) { repeatLastN = n; return this; }
    /** The same seed, prompt and parameters give the same reply. */
    public GenerateParams seed(long s) { seed = s; return this; }
    /** The reply ends before any of these (they are not part of it). */
    public GenerateParams stop(String... strings) { stop.addAll(Arrays.asList(strings)); return this; }
    /** A GBNF grammar (llama.cpp's notation, rule "root") the reply follows. */
    public GenerateParams grammar(String gbnf) { grammar = gbnf; return this; }
    /** A JSON Schema the reply is valid JSON under. */
    public GenerateParams jsonSchema(String schema) { jsonSchema = schema; return this; }

    /** A power budget: at most this many tokens per second, by sleeping; 0: no cap. */
    public GenerateParams maxTokensPerSecond(float rate) { maxTokensPerSecond = rate; return this; }
    /** A thermal back-off: above this many degrees Celsius (the hottest thermal zone), the
     *  pace halves, again at each check that finds it hot; 0: off. */
    public GenerateParams thermalLimitCelsius(float celsius) { thermalLimitCelsius = celsius; return this; }

    float[] pacing() {
        return new float[] {maxTokensPerSecond, thermalLimitCelsius};
    }

    float[] sampling() {
        return new float[] {temperature, topP, minP, repeatPenalty, frequencyPenalty,
                            presencePenalty, topK, repeatLastN};
    }
}
