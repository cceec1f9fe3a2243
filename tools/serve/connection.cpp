#include "tools/serve/connection.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <cstdlib>
#include <string>

namespace ember::serve {
namespace {

// Address and port of a socket address, as cpp-httplib writes them into a Request.
bool describe(const sockaddr_storage& addr, std::string* ip, int* port) {
    char buffer[INET6_ADDRSTRLEN] = {};
    if (addr.ss_family == AF_INET) {
        const auto* a = reinterpret_cast<const sockaddr_in*>(&addr);
        inet_ntop(AF_INET, &a->sin_addr, buffer, sizeof buffer);
        *port = ntohs(a->sin_port);
    } else if (addr.ss_family == AF_INET6) {
        const auto* a = reinterpret_cast<const sockaddr_in6*>(&addr);
        inet_ntop(AF_INET6, &a->sin6_addr, buffer, sizeof buffer);
        *port = ntohs(a->sin6_port);
    } else {
        return false;
    }
    *ip = buffer;
    return true;
}

}  // namespace

int connection_socket(const httplib::Request& request) {
    DIR* dir = opendir("/proc/self/fd");
    if (dir == nullptr) return -1;
    int found = -1;
    while (const dirent* entry = readdir(dir)) {
        if (entry->d_name[0] < '0' || entry->d_name[0] > '9') continue;
        const int fd = std::atoi(entry->d_name);
        sockaddr_storage local{}, peer{};
        socklen_t local_len = sizeof local, peer_len = sizeof peer;
        if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_len) != 0) continue;
        if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_len) != 0) continue;
        std::string local_ip, peer_ip;
        int local_port = 0, peer_port = 0;
        if (!describe(local, &local_ip, &local_port) || !describe(peer, &peer_ip, &peer_port)) {
            continue;
        }
        if (local_port == request.local_port && peer_port == request.remote_port &&
            peer_ip == request.remote_addr) {
            found = fd;
            break;
        }
    }
    closedir(dir);
    return found;
}

bool peer_closed(int socket) {
    if (socket < 0) return false;
    pollfd p{socket, POLLRDHUP, 0};
    if (poll(&p, 1, 0) <= 0) return false;
    return (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) != 0;
}

}  // namespace ember::serve
