// Every endpoint `amphora serve` answers. The server registers exactly these, and a unit test
// checks that openapi.json describes exactly these, so the document cannot drift from the code.
#pragma once

#include <array>
#include <string_view>

namespace amphora::serve {

struct Route {
  std::string_view method;  // "GET", "POST"
  std::string_view path;
};

inline constexpr std::array<Route, 7> kRoutes = {{
    {"GET", "/"},              // the browser page (web/index.html)
    {"GET", "/healthz"},       // liveness: 200 {"status": "ok"}, 503 while draining
    {"GET", "/metrics"},       // Prometheus text format
    {"GET", "/openapi.json"},  // this API, OpenAPI 3
    {"GET", "/v1/models"},     // served vocoders and voices
    {"POST", "/v1/vocode"},    // mel .npy or wav -> streamed audio
    {"POST", "/v1/tts"},       // JSON text -> streamed speech
}};

// The route label of a request path for metrics: a served path, else "other".
inline std::string_view route_label(std::string_view path) {
  for (const Route& route : kRoutes) {
    if (route.path == path) return route.path;
  }
  return "other";
}

}  // namespace amphora::serve
