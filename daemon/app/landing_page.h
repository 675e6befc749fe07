#pragma once
#include <string>

namespace replywatch::app {

// The HTML served at "/": what this is and links to the endpoints.
std::string landingPage();

}  // namespace replywatch::app
