#include "platform/memory.h"

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>

#if defined(_WIN32)
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#else
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#if defined(__APPLE__)
#include <mach/mach.h>
#endif
#endif

namespace ember::platform {
namespace {

constexpr size_t kHugePage = size_t{2} << 20;

// The whole pages inside [begin, begin + bytes): [*first, *last), empty if none.
bool whole_pages(const void* begin, size_t bytes, uintptr_t* first, uintptr_t* last) {
    const uintptr_t page = page_size();
    *first = (reinterpret_cast<uintptr_t>(begin) + page - 1) / page * page;
    *last = (reinterpret_cast<uintptr_t>(begin) + bytes) / page * page;
    return *first < *last;
}

#if defined(_WIN32)
std::string last_error() {
    char text[256] = "";
    FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, nullptr,
                   GetLastError(), 0, text, sizeof(text), nullptr);
    std::string s(text);
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == '.')) s.pop_back();
    return s;
}
#endif

}  // namespace

size_t page_size() {
#if defined(_WIN32)
    SYSTEM_INFO info;
    GetSystemInfo(&info);
    return info.dwPageSize;
#else
    return static_cast<size_t>(::sysconf(_SC_PAGESIZE));
#endif
}

bool map_file(const std::string& path, FileMapping& out, std::string& error) {
    out = {};
#if defined(_WIN32)
    HANDLE file = CreateFileA(path.c_str(), GENERIC_READ, FILE_SHARE_READ, nullptr, OPEN_EXISTING,
                              FILE_ATTRIBUTE_NORMAL, nullptr);
    if (file == INVALID_HANDLE_VALUE) {
        error = "cannot open " + path + ": " + last_error();
        return false;
    }
    LARGE_INTEGER size{};
    if (GetFileType(file) != FILE_TYPE_DISK || !GetFileSizeEx(file, &size)) {
        CloseHandle(file);
        error = "cannot open " + path + ": not a regular file";
        return false;
    }
    out.size = static_cast<size_t>(size.QuadPart);
    if (out.size > 0) {
        HANDLE mapping = CreateFileMappingA(file, nullptr, PAGE_READONLY, 0, 0, nullptr);
        void* view = mapping ? MapViewOfFile(mapping, FILE_MAP_READ, 0, 0, 0) : nullptr;
        if (view == nullptr) {
            error = "cannot map " + path + ": " + last_error();
            if (mapping) CloseHandle(mapping);
            CloseHandle(file);
            out = {};
            return false;
        }
        out.data = static_cast<const uint8_t*>(view);
        out.handle = mapping;
    }
    CloseHandle(file);  // the mapping keeps the file open
    return true;
#else
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        error = "cannot open " + path + ": " + std::strerror(errno);
        return false;
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        error = "cannot stat " + path + ": " + std::strerror(errno);
        ::close(fd);
        return false;
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        error = "cannot open " + path + ": not a regular file";
        return false;
    }
    out.size = static_cast<size_t>(st.st_size);
    if (out.size > 0) {  // mmap refuses a length of 0; an empty file is the parser's to report
        void* mapping = ::mmap(nullptr, out.size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (mapping == MAP_FAILED) {
            error = "cannot map " + path + ": " + std::strerror(errno);
            ::close(fd);
            out = {};
            return false;
        }
        out.data = static_cast<const uint8_t*>(mapping);
    }
    ::close(fd);  // the mapping keeps the file alive
    return true;
#endif
}

void unmap_file(FileMapping& mapping) {
    if (mapping.data != nullptr) {
#if defined(_WIN32)
        UnmapViewOfFile(mapping.data);
        CloseHandle(mapping.handle);
#else
        ::munmap(const_cast<uint8_t*>(mapping.data), mapping.size);
#endif
    }
    mapping = {};
}

void release_file_pages(const void* begin, size_t bytes) {
    uintptr_t first, last;
    if (!whole_pages(begin, bytes, &first, &last)) return;
#if defined(_WIN32)
    // VirtualUnlock on pages that are not locked takes them out of the working set (its
    // documented remark); being clean file pages, they are read from the file again if touched.
    VirtualUnlock(reinterpret_cast<void*>(first), last - first);
#else
    ::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
#endif
}

void release_anonymous_pages(void* begin, size_t bytes) {
    uintptr_t first, last;
    if (!whole_pages(begin, bytes, &first, &last)) return;
#if defined(_WIN32)
    // Decommit and commit again: the pages are given back and read as zeros when touched.
    VirtualFree(reinterpret_cast<void*>(first), last - first, MEM_DECOMMIT);
    VirtualAlloc(reinterpret_cast<void*>(first), last - first, MEM_COMMIT, PAGE_READWRITE);
#else
    ::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
#endif
}

bool allocate_page_block(size_t bytes, PageBlock& out, bool huge_pages) {
    out = {};
    // One huge page more than asked, starting at the first 2 MiB boundary inside.
    const size_t size = (bytes + kHugePage - 1) / kHugePage * kHugePage + kHugePage;
#if defined(_WIN32)
    void* p = VirtualAlloc(nullptr, size, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    if (p == nullptr) return false;
#else
    void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return false;
#endif
    out.base = p;
    out.size = size;
    out.data = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(p) + kHugePage - 1) /
                                          kHugePage * kHugePage);
#if defined(MADV_HUGEPAGE)
    // A hint: where transparent huge pages are off, or none is free, small pages serve.
    if (huge_pages) ::madvise(out.data, size - kHugePage, MADV_HUGEPAGE);
#else
    (void)huge_pages;
#endif
    return true;
}

void populate_pages(void* begin, size_t bytes) {
#if defined(__linux__)
    constexpr int kPopulateWrite = 23;  // MADV_POPULATE_WRITE, Linux 5.14 (older headers lack it)
    // An older kernel answers EINVAL: asked once, not again.
    static std::atomic<bool> unsupported{false};
    if (bytes == 0 || unsupported.load(std::memory_order_relaxed)) return;
    const uintptr_t page = page_size();
    const uintptr_t first = reinterpret_cast<uintptr_t>(begin) / page * page;
    const uintptr_t last = (reinterpret_cast<uintptr_t>(begin) + bytes + page - 1) / page * page;
    if (::madvise(reinterpret_cast<void*>(first), last - first, kPopulateWrite) != 0 &&
        errno == EINVAL)
        unsupported.store(true, std::memory_order_relaxed);
#else
    (void)begin;
    (void)bytes;
#endif
}

void free_page_block(PageBlock& block) {
    if (block.base != nullptr) {
#if defined(_WIN32)
        VirtualFree(block.base, 0, MEM_RELEASE);
#else
        ::munmap(block.base, block.size);
#endif
    }
    block = {};
}

uint64_t available_memory_bytes() {
#if defined(_WIN32)
    MEMORYSTATUSEX status{};
    status.dwLength = sizeof(status);
    return GlobalMemoryStatusEx(&status) ? status.ullAvailPhys : 0;
#elif defined(__APPLE__)
    vm_statistics64_data_t stats{};
    mach_msg_type_number_t count = HOST_VM_INFO64_COUNT;
    if (host_statistics64(mach_host_self(), HOST_VM_INFO64, reinterpret_cast<host_info64_t>(&stats),
                          &count) != KERN_SUCCESS)
        return 0;
    return (uint64_t{stats.free_count} + stats.inactive_count) * page_size();
#else
    std::ifstream meminfo("/proc/meminfo");
    std::string key;
    uint64_t value = 0;
    std::string unit;
    while (meminfo >> key >> value >> unit) {
        if (key == "MemAvailable:") return value * 1024;  // reported in kB
    }
    return 0;
#endif
}

}  // namespace ember::platform
