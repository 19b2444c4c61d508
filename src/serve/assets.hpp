// Files of src/serve that the server sends as they are, embedded into the binary at build time
// (cmake/embed_files.cmake writes their definitions), so the binary needs no data directory.
#pragma once

#include <string_view>

namespace amphora::serve::assets {

std::string_view index_html();    // web/index.html: GET /
std::string_view openapi_json();  // openapi.json: GET /openapi.json

}  // namespace amphora::serve::assets
