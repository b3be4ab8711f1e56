// render_text: how replies look to people.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "control/ctl/table_format.h"

namespace ssw {
namespace {

using json = nlohmann::ordered_json;

std::vector<std::string> lines_of(const std::string &s) {
    std::vector<std::string> out;
    size_t start = 0;
    while (start < s.size()) {
        size_t nl = s.find('\n', start);
        EXPECT_NE(nl, std::string::npos) << "output does not end with a newline";
        if (nl == std::string::npos) nl = s.size();
        out.push_back(s.substr(start, nl - start));
        start = nl + 1;
    }
    return out;
}

TEST(RenderText, NullIsEmpty) { EXPECT_EQ(render_text(json(nullptr)), ""); }

TEST(RenderText, ArrayOfObjectsIsAlignedTable) {
    json rows = json::array();
    rows.push_back({{"port", 0}, {"name", "eth0"}, {"up", true}, {"mtu", 1500}});
    rows.push_back({{"port", 12}, {"name", "longer-name"}, {"up", false}, {"mtu", 9000}});
    rows.push_back({{"port", 3}, {"name", ""}, {"up", nullptr}, {"mtu", 68}});
    auto out = render_text(rows);
    EXPECT_EQ(out,
              "port  name         up   mtu\n"
              "0     eth0         yes  1500\n"
              "12    longer-name  no   9000\n"
              "3     -            -    68\n");
    // Every column starts at the same offset in every line.
    auto lines = lines_of(out);
    ASSERT_EQ(lines.size(), 4u);
    for (const auto &l : lines) {
        EXPECT_NE(l[6], ' ');
        EXPECT_EQ(l[4], ' ');
        EXPECT_EQ(l[5], ' ');
        EXPECT_NE(l[19], ' ');
        EXPECT_NE(l.back(), ' ') << "trailing blanks";
    }
}

TEST(RenderText, ColumnsComeFromTheFirstRow) {
    json rows = json::array();
    rows.push_back({{"a", "x"}, {"b", "y"}});
    rows.push_back({{"a", "xx"}, {"c", "zzz"}});  // no "b"; "c" is not a column
    EXPECT_EQ(render_text(rows),
              "a   b\n"
              "x   y\n"
              "xx  -\n");
}

TEST(RenderText, EmptyArrayInObjectIsNone) {
    json obj = {{"routes", json::array()}};
    EXPECT_EQ(render_text(obj), "routes:\n(none)\n");
}

// The show commands reply with a bare array of rows; with no rows that is "(none)".
TEST(RenderText, EmptyTopLevelArrayIsNone) { EXPECT_EQ(render_text(json::array()), "(none)\n"); }

TEST(RenderText, ArrayOfStringsIsLines) {
    json a = {"address add A/L port N", "help", ""};
    EXPECT_EQ(render_text(a), "address add A/L port N\nhelp\n-\n");
    json nums = {1, 2.5, -3};
    EXPECT_EQ(render_text(nums), "1\n2.5\n-3\n");
}

TEST(RenderText, ScalarIsOneLine) {
    EXPECT_EQ(render_text(json("ok")), "ok\n");
    EXPECT_EQ(render_text(json(42)), "42\n");
    EXPECT_EQ(render_text(json(true)), "yes\n");
}

TEST(RenderText, ObjectIsNameValueList) {
    json o;
    o["version"] = "0.1.0";
    o["workers"] = 2;
    o["idle"] = 0;  // top level: zeros shown
    EXPECT_EQ(render_text(o),
              "version  0.1.0\n"
              "workers  2\n"
              "idle     0\n");
}

TEST(RenderText, NestedCountersHideZeros) {
    json o;
    o["rx_packets"] = 10;
    o["drops"] = {
        {"ttl_exceeded", 0}, {"no_route", 7}, {"blackhole", 0}, {"tx_full", 0}, {"eth_vlan", 1}};
    auto out = render_text(o);
    auto lines = lines_of(out);
    ASSERT_EQ(lines.size(), 5u) << out;
    EXPECT_EQ(lines[0], "rx_packets  10");
    EXPECT_EQ(lines[1], "drops:");
    // Names are padded to a common width (that of the longest name in the group).
    EXPECT_EQ(lines[2].rfind("  no_route  ", 0), 0u) << lines[2];
    EXPECT_EQ(lines[3].rfind("  eth_vlan  ", 0), 0u) << lines[3];
    EXPECT_EQ(lines[2].back(), '7');
    EXPECT_EQ(lines[3].back(), '1');
    EXPECT_EQ(lines[2].size(), lines[3].size()) << "values not aligned";
    EXPECT_EQ(lines[2].find_first_not_of(' ', 10), lines[2].size() - 1);
    EXPECT_EQ(lines[4], "  (3 more at zero; --json shows all)");
    EXPECT_EQ(out.find("ttl_exceeded"), std::string::npos);
    EXPECT_EQ(out.find("blackhole"), std::string::npos);
}

TEST(RenderText, AllZeroAndNoZeroGroups) {
    json o;
    o["a"] = {{"x", 0}, {"y", 0.0}};
    o["b"] = {{"z", 5}, {"s", "0"}, {"f", false}};  // strings and booleans are not counters
    auto out = render_text(o);
    EXPECT_EQ(out,
              "a:\n"
              "  (2 more at zero; --json shows all)\n"
              "b:\n"
              "  z  5\n"
              "  s  0\n"
              "  f  no\n");
}

TEST(RenderText, DeeperNestingIndents) {
    json o;
    o["workers"] = {{"w0", {{"rx", 3}, {"tx", 0}}}, {"w1", {{"rx", 0}, {"tx", 0}}}};
    EXPECT_EQ(render_text(o),
              "workers:\n"
              "  w0:\n"
              "    rx  3\n"
              "    (1 more at zero; --json shows all)\n"
              "  w1:\n"
              "    (2 more at zero; --json shows all)\n");
}

}  // namespace
}  // namespace ssw
