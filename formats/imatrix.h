// Importance matrices in llama.cpp's file format (llama-imatrix, the binary format of
// llama.cpp c392e50 that llama-quantize --imatrix reads): for each weight matrix, the mean
// square of each of its input columns over a text, which the quantizers use to weight their
// rounding errors. Little-endian, no header:
//   int32 n_entries; per entry: int32 name length, the name (no NUL), int32 ncall (the passes
//   that fed it), int32 nval (the matrix's columns), nval float32 values (mean(x_j^2) x ncall);
//   then int32 chunks, int32 length and the text's name.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace ember {

struct ImatrixEntry {
    std::string name;  // the weight's tensor name, "blk.0.attn_q.weight"
    int32_t ncall = 0;
    std::vector<float> values;  // as stored: mean of x_j^2 times ncall
};

struct Imatrix {
    std::vector<ImatrixEntry> entries;
    int32_t chunks = 0;
    std::string dataset;  // the text the values came from, as named on the command line
};

// Throws FileError if the file cannot be read, Error naming the problem if it is not a
// well-formed importance matrix (every length checked against the bytes left).
Imatrix read_imatrix(const std::string& path);

// Writes atomically (OutputFile): never a partial file, never over one of `inputs`.
void write_imatrix(const std::string& path, const Imatrix& imatrix,
                   std::span<const std::string> inputs = {});

}  // namespace ember
