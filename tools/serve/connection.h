// Noticing that a client went away while its request is still being worked on (a closed
// browser tab, a killed script), so its slot is freed instead of generating for nobody.
// cpp-httplib 0.11 notices only when a write fails; a long prompt writes nothing for seconds.
#pragma once

#include <httplib.h>

namespace ember::serve {

// The connection's socket, found by its addresses (Linux: /proc/self/fd); -1 if not found.
int connection_socket(const httplib::Request& request);

// Whether the peer closed (or reset) the connection. False for -1.
bool peer_closed(int socket);

}  // namespace ember::serve
