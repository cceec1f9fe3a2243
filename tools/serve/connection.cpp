#include "tools/serve/connection.h"

#include <poll.h>

namespace ember::serve {

bool peer_closed(int socket) {
    if (socket < 0) return false;
    pollfd p{socket, POLLRDHUP, 0};
    if (poll(&p, 1, 0) <= 0) return false;
    return (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) != 0;
}

}  // namespace ember::serve
