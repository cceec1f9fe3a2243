/* Semantic search with ember's sentence embeddings: ranks a few documents by their cosine
 * similarity to a query. An embedding model (all-MiniLM-L6-v2, bge-small, nomic-embed-text in
 * GGUF) gives meaningful rankings; any model ember runs works (a decoder's last-token states).
 *
 *   search_c [MODEL.gguf] [QUERY]     (default: models/stories260K.gguf, from the repository root)
 */
#include <ember.h>
#include <stdio.h>
#include <stdlib.h>

static const char* const documents[] = {
    "The cat sat on the mat.",
    "Stock markets fell sharply after the announcement.",
    "A small kitten is sleeping on a rug.",
    "How do I reset my password?",
};
enum { n_documents = sizeof documents / sizeof documents[0] };

int main(int argc, char** argv) {
    const char* path = argc > 1 ? argv[1] : "models/stories260K.gguf";
    const char* query = argc > 2 ? argv[2] : "My kitten naps on the carpet.";
    char error[512];
    ember_model* model = NULL;
    if (ember_model_load(path, NULL, &model, error, sizeof error) != EMBER_OK) {
        fprintf(stderr, "%s\n", error);
        return 1;
    }
    ember_embedder* embedder = NULL;
    if (ember_embedder_create(model, NULL, &embedder, error, sizeof error) != EMBER_OK) {
        fprintf(stderr, "%s\n", error);
        ember_model_free(model);
        return 1;
    }
    /* The query and the documents in one call: n_documents + 1 vectors of dimension floats,
     * unit length (the default), so a dot product is the cosine similarity. */
    const size_t d = (size_t)ember_embedder_dimension(embedder);
    const char* texts[n_documents + 1] = {query};
    for (int i = 0; i < n_documents; ++i) texts[i + 1] = documents[i];
    float* vectors = malloc((n_documents + 1) * d * sizeof(float));
    ember_status status = vectors ? ember_embed(embedder, texts, n_documents + 1, vectors,
                                                (n_documents + 1) * d, NULL)
                                  : EMBER_ERROR_OUT_OF_MEMORY;
    if (status == EMBER_OK) {
        printf("query: %s\n", query);
        for (int i = 0; i < n_documents; ++i) {
            float dot = 0;
            for (size_t k = 0; k < d; ++k) dot += vectors[k] * vectors[(i + 1) * d + k];
            printf("%.4f  %s\n", dot, documents[i]);
        }
    } else {
        fprintf(stderr, "embedding failed: %s\n", ember_status_string(status));
    }
    free(vectors);
    ember_embedder_free(embedder);
    ember_model_free(model);
    return status == EMBER_OK ? 0 : 1;
}
