// Noticing that a client went away while its request is still being worked on (a closed
// browser tab, a killed script), so its slot is freed instead of generating for nobody.
#pragma once

namespace ember::serve {

// Whether the peer closed (or reset) the connection on this socket, without reading from it.
// False for -1 (a request that came in-process).
bool peer_closed(int socket);

}  // namespace ember::serve
