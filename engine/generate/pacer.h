// The pace of a generation: a power budget (at most so many tokens per second) and a thermal
// back-off (slower while the device is hot), by sleeping between tokens; the threads wait
// asleep, not spinning. A Session asks its Pacer before each token.
#pragma once

#include <chrono>

#include "engine/runtime/cancel_flag.h"

namespace ember {

struct PacingParams {
    // At most this many tokens per second; 0: as fast as it goes.
    float max_tokens_per_second = 0;
    // While the hottest thermal zone the system reports (platform/thermal.h) is above this
    // many degrees Celsius, the pace halves, and halves again at each check that finds it
    // still hot (down to 1 token/s); once it is 5 degrees below, the normal pace returns.
    // Checked every thermal_check_ms. 0: off (and where the system reports no temperature,
    // nothing happens).
    float thermal_limit_celsius = 0;
    int thermal_check_ms = 1000;
};

class Pacer {
  public:
    explicit Pacer(const PacingParams& params);

    // Waits until token `index` (0 for the first of the turn) is due; returns early once
    // `cancel` is set (it is checked every 20 ms).
    void wait(int index, const CancelFlag& cancel);
    int slowdowns() const { return slowdowns_; }  // times the thermal back-off halved the pace

  private:
    using Clock = std::chrono::steady_clock;
    void check_temperature(int index);
    void set_rate(double rate, int index);

    PacingParams params_;
    Clock::time_point start_;
    // With a rate, token i is due at base_time_ + (i - base_index_) / rate_. A new rate starts
    // a new base: the next token is due one new interval from now.
    double rate_;
    Clock::time_point base_time_;
    int base_index_ = 0;
    Clock::time_point last_check_;
    bool hot_ = false;
    int slowdowns_ = 0;
};

}  // namespace ember
