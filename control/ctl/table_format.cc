#include "control/ctl/table_format.h"

#include <algorithm>
#include <vector>

#include <fmt/format.h>

namespace ssw {

namespace {

using json = nlohmann::ordered_json;

std::string cell(const json &v) {
    if (v.is_null()) return "-";
    if (v.is_string()) return v.get<std::string>().empty() ? "-" : v.get<std::string>();
    if (v.is_boolean()) return v.get<bool>() ? "yes" : "no";
    return v.dump();
}

void render_table(const json &rows, std::string &out) {
    if (rows.empty()) {
        out += "(none)\n";
        return;
    }
    std::vector<std::string> cols;
    for (const auto &[k, v] : rows.front().items()) cols.push_back(k);
    std::vector<size_t> width(cols.size());
    for (size_t c = 0; c < cols.size(); ++c) width[c] = cols[c].size();
    std::vector<std::vector<std::string>> cells;
    for (const auto &row : rows) {
        std::vector<std::string> line;
        for (size_t c = 0; c < cols.size(); ++c) {
            line.push_back(row.contains(cols[c]) ? cell(row[cols[c]]) : "-");
            width[c] = std::max(width[c], line.back().size());
        }
        cells.push_back(std::move(line));
    }
    auto emit = [&](const std::vector<std::string> &line) {
        std::string s;
        for (size_t c = 0; c < line.size(); ++c)
            s += c + 1 < line.size() ? fmt::format("{:<{}}  ", line[c], width[c]) : line[c];
        out += s + "\n";
    };
    emit(cols);
    for (const auto &line : cells) emit(line);
}

void render_object(const json &obj, std::string &out, int indent) {
    size_t name_width = 0;
    for (const auto &[k, v] : obj.items()) name_width = std::max(name_width, k.size());
    size_t hidden = 0;
    const std::string pad(size_t(indent), ' ');
    for (const auto &[k, v] : obj.items()) {
        if (v.is_object()) {
            out += pad + k + ":\n";
            render_object(v, out, indent + 2);
        } else if (v.is_array()) {
            out += pad + k + ":\n";
            render_table(v, out);
        } else if (indent > 0 && v.is_number() && v.get<double>() == 0) {
            ++hidden;
        } else {
            out += fmt::format("{}{:<{}}  {}\n", pad, k, name_width, cell(v));
        }
    }
    if (hidden) out += fmt::format("{}({} more at zero; --json shows all)\n", pad, hidden);
}

}  // namespace

std::string render_text(const json &data) {
    std::string out;
    if (data.is_null()) return out;
    if (data.is_array()) {
        if (data.empty() || data.front().is_object())
            render_table(data, out);
        else
            for (const auto &v : data) out += cell(v) + "\n";
    } else if (data.is_object()) {
        render_object(data, out, 0);
    } else {
        out += cell(data) + "\n";
    }
    return out;
}

}  // namespace ssw
