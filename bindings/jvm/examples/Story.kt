// A Kotlin program on ember's Java API: a story streamed as it is written, then which of three
// sentences is nearest to a question (embeddings). CTest runs it (KotlinExample).
import dev.ember.GenerateParams
import dev.ember.Model
import dev.ember.Session

fun cosine(a: FloatArray, b: FloatArray): Float = a.zip(b).map { (x, y) -> x * y }.sum()

fun main(args: Array<String>) {
    val path = args.firstOrNull() ?: "models/stories260K.gguf"
    Model.load(path).use { model ->
        model.newSession(Session.Params().contextSize(512)).use { session ->
            val params = GenerateParams().maxTokens(20).temperature(0f)
            session.generate("Once upon a time", params) { text -> print(text); true }
            println()
        }
        model.newEmbedder().use { embedder ->
            val sentences = listOf("The dog ran in the park.", "She baked a cake.", "It rained.")
            val question = embedder.embed("Where did the dog run?")
            val best = sentences.maxBy { cosine(embedder.embed(it), question) }
            println("nearest: $best")
        }
    }
}
