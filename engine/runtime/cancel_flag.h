// What stops a running call (a prompt's evaluation between layers, a generation before its next
// token, an embedding): its owner's own flag, raised by cancel() from any thread and cleared as
// the owner's next call starts (so that a cancel that came late for one call cannot stop the
// next), and, optionally, a flag of the caller's (C API: ember_session_watch_cancel), which
// belongs to one call and is not cleared, so that raising it before the call starts still
// stops it: what a binding that hands its calls to a worker thread needs.
#pragma once

#include <atomic>
#include <cstdint>

namespace ember {

class CancelFlag {
  public:
    void raise() { own_.store(true); }
    // As a call starts: a cancel() before it was meant for an earlier call.
    void clear_own() { own_.store(false); }
    // Also watch *flag (nonzero: cancelled; nullptr: watch none). The caller writes it with an
    // atomic store and keeps it alive while it is watched.
    void watch(const int32_t* flag) { watched_.store(flag); }

    bool raised() const {
        if (own_.load(std::memory_order_relaxed)) return true;
        const int32_t* w = watched_.load(std::memory_order_acquire);
        if (w == nullptr) return false;
        // Only read here; the caller writes it with atomic stores.
        return std::atomic_ref(*const_cast<int32_t*>(w)).load(std::memory_order_relaxed) != 0;
    }
    // raised(), the own flag cleared: a cancel is reported once.
    bool take() {
        const bool own = own_.exchange(false);
        return own || raised();
    }

  private:
    std::atomic<bool> own_{false};
    std::atomic<const int32_t*> watched_{nullptr};
};

}  // namespace ember
