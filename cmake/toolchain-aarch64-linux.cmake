# Cross-compiling for 64-bit ARM Linux (Raspberry Pi 3/4/5, phones' cores, Graviton) with
# Debian's g++-aarch64-linux-gnu. scripts/cross-build.sh aarch64 uses it.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
# Programs from the build machine; libraries from the target's root; headers and CMake
# packages from both (CLI11 and nlohmann-json are header-only, the same for every target).
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64)
# GCC notes that std::pair passing changed in GCC 10 (an ABI note, nothing to fix here).
set(CMAKE_CXX_FLAGS_INIT -Wno-psabi)
