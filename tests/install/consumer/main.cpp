#include <ember.hpp>
#include <iostream>

int main() {
    std::cout << "ember " << ember::version() << "\n";
    return ember::version() == EMBER_VERSION_STRING ? 0 : 1;
}
