/* ember: quantized Llama-family inference on CPUs, from GGUF files.
 *
 * The public C API of libember.a. Every function reports failure through its return value
 * (a status code or NULL) and never lets an exception or an abort cross into the caller.
 */
#ifndef EMBER_H
#define EMBER_H

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

#ifdef __cplusplus
}
#endif

#endif /* EMBER_H */
