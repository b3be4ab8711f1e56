// Renders a reply's JSON data for people: arrays of objects as aligned tables, objects as
// "name  value" lists (counters that are zero are left out and counted), strings as lines.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace ssw {

std::string render_text(const nlohmann::ordered_json &data);

}  // namespace ssw
