#include "formats/imatrix.h"

#include <cstring>
#include <fstream>
#include <iterator>

#include "formats/error.h"
#include "formats/output_file.h"

namespace ember {
namespace {

// Reads little-endian fields from a byte buffer, each checked against what is left.
class Reader {
  public:
    Reader(const std::string& path, std::vector<char> bytes)
        : path_(path), bytes_(std::move(bytes)) {}
    int32_t i32(const char* what) {
        int32_t v;
        take(&v, 4, what);
        return v;
    }
    void take(void* out, size_t n, const char* what) {
        if (n > bytes_.size() - at_) {
            throw Error(path_ + ": not an importance matrix: the file ends inside " + what);
        }
        std::memcpy(out, bytes_.data() + at_, n);
        at_ += n;
    }
    size_t left() const { return bytes_.size() - at_; }
    const std::string& path() const { return path_; }

  private:
    std::string path_;
    std::vector<char> bytes_;
    size_t at_ = 0;
};

}  // namespace

Imatrix read_imatrix(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw FileError("cannot read " + path);
    Reader r(path, std::vector<char>(std::istreambuf_iterator<char>(in), {}));
    Imatrix m;
    const int32_t n_entries = r.i32("the entry count");
    // Each entry takes at least 12 bytes: a count beyond that is not a real file.
    if (n_entries < 0 || static_cast<size_t>(n_entries) > r.left() / 12) {
        throw Error(path + ": not an importance matrix: " + std::to_string(n_entries) +
                    " entries in a file of that size");
    }
    for (int32_t e = 0; e < n_entries; ++e) {
        ImatrixEntry entry;
        const int32_t len = r.i32("an entry's name length");
        if (len <= 0 || static_cast<size_t>(len) > r.left()) {
            throw Error(path + ": not an importance matrix: entry " + std::to_string(e) +
                        " has a name length of " + std::to_string(len));
        }
        entry.name.resize(static_cast<size_t>(len));
        r.take(entry.name.data(), entry.name.size(), "an entry's name");
        entry.ncall = r.i32("an entry's call count");
        const int32_t nval = r.i32("an entry's value count");
        if (nval < 0 || static_cast<size_t>(nval) > r.left() / 4) {
            throw Error(path + ": not an importance matrix: entry '" + entry.name + "' has " +
                        std::to_string(nval) + " values");
        }
        entry.values.resize(static_cast<size_t>(nval));
        r.take(entry.values.data(), entry.values.size() * 4, "an entry's values");
        m.entries.push_back(std::move(entry));
    }
    if (r.left() >= 4) {  // the chunk count and the text's name (older files end before)
        m.chunks = r.i32("the chunk count");
        if (r.left() >= 4) {
            const int32_t len = r.i32("the text's name length");
            if (len < 0 || static_cast<size_t>(len) > r.left()) {
                throw Error(path + ": not an importance matrix: a text name of " +
                            std::to_string(len) + " bytes");
            }
            m.dataset.resize(static_cast<size_t>(len));
            r.take(m.dataset.data(), m.dataset.size(), "the text's name");
        }
    }
    return m;
}

void write_imatrix(const std::string& path, const Imatrix& imatrix,
                   std::span<const std::string> inputs) {
    OutputFile out(path, inputs);
    const auto i32 = [&](int32_t v) { out.write(&v, 4); };
    i32(static_cast<int32_t>(imatrix.entries.size()));
    for (const ImatrixEntry& e : imatrix.entries) {
        i32(static_cast<int32_t>(e.name.size()));
        out.write(e.name.data(), e.name.size());
        i32(e.ncall);
        i32(static_cast<int32_t>(e.values.size()));
        out.write(e.values.data(), e.values.size() * 4);
    }
    i32(imatrix.chunks);
    i32(static_cast<int32_t>(imatrix.dataset.size()));
    out.write(imatrix.dataset.data(), imatrix.dataset.size());
    out.commit();
}

}  // namespace ember
