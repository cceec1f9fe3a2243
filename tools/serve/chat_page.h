// The chat page `ember serve` answers GET / with: chat_page.html, compiled in by CMake.
#pragma once

namespace ember::serve {

extern const char* const kChatPage;  // the whole HTML document

}  // namespace ember::serve
