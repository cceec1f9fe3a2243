#include "engine/generate/pacer.h"

#include <algorithm>
#include <optional>
#include <thread>

#include "platform/thermal.h"

namespace ember {

Pacer::Pacer(const PacingParams& params)
    : params_(params),
      start_(Clock::now()),
      rate_(params.max_tokens_per_second),
      base_time_(start_),
      last_check_(start_) {}

void Pacer::set_rate(double rate, int index) {
    rate_ = rate;
    base_time_ = Clock::now();
    base_index_ = index - 1;
}

void Pacer::check_temperature(int index) {
    const auto now = Clock::now();
    if (now - last_check_ < std::chrono::milliseconds(params_.thermal_check_ms)) return;
    last_check_ = now;
    const std::optional<double> celsius = platform::hottest_temperature_celsius();
    if (!celsius) return;
    if (*celsius > params_.thermal_limit_celsius && index > 0) {
        // Half of the pace now: the cap, or the rate measured so far.
        const double seconds = std::chrono::duration<double>(now - start_).count();
        const double pace = rate_ > 0 ? rate_ : index / std::max(seconds, 1e-3);
        const double slower = std::max(1.0, pace / 2);
        if (rate_ <= 0 || slower < rate_) {  // at 1 token/s it stays there
            set_rate(slower, index);
            ++slowdowns_;
        }
        hot_ = true;
    } else if (hot_ && *celsius < params_.thermal_limit_celsius - 5) {
        set_rate(params_.max_tokens_per_second, index);
        hot_ = false;
    }
}

void Pacer::wait(int index, const CancelFlag& cancel) {
    if (params_.thermal_limit_celsius > 0) check_temperature(index);
    if (rate_ <= 0) return;
    // At most 1e9 s on: beyond, the clock's nanoseconds would overflow.
    const auto when =
        base_time_ + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(
                         std::min((index - base_index_) / rate_, 1e9)));
    // Sleep in slices, so that a cancel is still heard soon.
    while (!cancel.raised() && Clock::now() < when) {
        std::this_thread::sleep_until(std::min(when, Clock::now() + std::chrono::milliseconds(20)));
    }
}

}  // namespace ember
