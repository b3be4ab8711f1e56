// One spec per command (docs/DESIGN.md §5): its syntax as data, from which the parser, the
// canonical formatter and the help line are all derived, so the three cannot drift apart.
//
// A command has one or more forms (route add|replace ... via, ... port, ... blackhole, route
// del). A form is a sequence of nodes after the command's head word:
//   keyword        a fixed word                               "to"
//   choice         one of several words, setting a field      add|del
//   value          one word read into a field                 M, PREFIX, N
//   optional value a value that may be left out               [M|PREFIX]
//   group          optional, led by a keyword                 [epoch E], [keep-source]
//   any order      optional groups in any order, repeatable   [count K] [interval MS]
// The parser tries the forms in order and takes the first that reads the whole line; when
// none does, it reports the error found furthest into the line (merging what the forms
// expected there). The formatter writes the first form whose `is` matches the command.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "dataplane/net/net_types.h"

// Specs name only the fields a node or form sets (designated initializers); the rest keep
// their defaults, which is what -Wmissing-field-initializers would complain about.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace ssw::spec {

// Why a line is not a command: where (word index) and what. An expectation (a keyword or
// choice that did not come) may be merged with other forms' expectations at the same place.
struct syntax_error {
    std::string message;
    size_t pos = 0;
    std::vector<std::string> expected;  // non-empty: an expectation
    std::string got;                    // the word found instead; empty: the line ended
};

class word_cursor {
public:
    explicit word_cursor(std::vector<std::string_view> words) : words_(std::move(words)) {}

    size_t pos() const { return pos_; }
    void seek(size_t pos) { pos_ = pos; }
    bool at_end() const { return pos_ >= words_.size(); }
    std::string_view peek() const { return at_end() ? std::string_view{} : words_[pos_]; }
    std::string_view next(std::string_view what);
    // The next word, which must be `word` (or one of `words`: its index). Else an
    // expectation error.
    void expect(const std::string &word);
    size_t expect_one_of(const std::vector<std::string> &words);

    ip4_addr address(std::string_view what);
    // A prefix "A.B.C.D/L"; a bare address is a /32. Host bits are refused.
    ip4_prefix prefix(std::string_view what);
    // An interface address "A.B.C.D/L": host bits expected, length required.
    ip4_prefix address_with_length(std::string_view what);
    mac_addr mac(std::string_view what);
    uint64_t number(std::string_view what, uint64_t min, uint64_t max);
    uint16_t port_id() { return uint16_t(number("port number", 0, 65534)); }

    // Fails at the word just read (value errors) or, with at_word = false, where the cursor is.
    [[noreturn]] void fail(std::string message, bool at_word = true) const;

private:
    std::vector<std::string_view> words_;
    size_t pos_ = 0;
};

template <class Cmd>
struct node {
    enum class kind { keyword, choice, value, optional_value, group, any_order };
    kind k = kind::keyword;
    std::string text;                // keyword; the placeholder of a value, for help
    std::vector<std::string> words;  // choice
    std::function<size_t(const Cmd &)> chosen;
    std::function<void(Cmd &, size_t)> choose;
    std::function<void(word_cursor &, Cmd &)> read;         // value
    std::function<void(const Cmd &, std::string &)> write;  // value
    std::function<bool(const Cmd &)> present;               // group, optional value
    std::function<void(Cmd &)> on;                          // group: when it is there
    std::vector<node> children;  // group: after its keyword (text); any order: the groups
};

template <class Cmd>
struct form {
    std::vector<node<Cmd>> nodes;
    std::function<bool(const Cmd &)> is;  // the formatter's choice of form
    std::function<void(Cmd &)> init;      // what the form implies (e.g. add = false)
    std::string help;                     // what it does; '\n' breaks the line
};

// ---- building specs ----

template <class Cmd>
node<Cmd> kw(std::string word) {
    return {.k = node<Cmd>::kind::keyword, .text = std::move(word)};
}
// A choice of words for a field of type T: words[i] sets values[i].
template <class Cmd, class T>
node<Cmd> choice(T Cmd::*field, std::vector<std::string> words, std::vector<T> values) {
    node<Cmd> n{.k = node<Cmd>::kind::choice, .words = std::move(words)};
    n.chosen = [field, values](const Cmd &c) {
        for (size_t i = 0; i < values.size(); ++i)
            if (c.*field == values[i]) return i;
        return size_t(0);
    };
    n.choose = [field, values](Cmd &c, size_t i) { c.*field = values[i]; };
    return n;
}
template <class Cmd>
node<Cmd> value(std::string placeholder, std::function<void(word_cursor &, Cmd &)> read,
                std::function<void(const Cmd &, std::string &)> write) {
    return {.k = node<Cmd>::kind::value,
            .text = std::move(placeholder),
            .read = std::move(read),
            .write = std::move(write)};
}
template <class Cmd>
node<Cmd> optional_value(node<Cmd> v, std::function<bool(const Cmd &)> present) {
    v.k = node<Cmd>::kind::optional_value;
    v.present = std::move(present);
    return v;
}
template <class Cmd>
node<Cmd> group(std::string keyword, std::function<bool(const Cmd &)> present,
                std::vector<node<Cmd>> children, std::function<void(Cmd &)> on = {}) {
    return {.k = node<Cmd>::kind::group,
            .text = std::move(keyword),
            .present = std::move(present),
            .on = std::move(on),
            .children = std::move(children)};
}
template <class Cmd>
node<Cmd> any_order(std::vector<node<Cmd>> groups) {
    return {.k = node<Cmd>::kind::any_order, .children = std::move(groups)};
}

// ---- using them ----

// Reads `nodes` into `cmd` from the cursor (throws syntax_error); the caller checks that the
// line ends there.
template <class Cmd>
void read_nodes_partial(const std::vector<node<Cmd>> &nodes, word_cursor &c, Cmd &cmd);
template <class Cmd>
void write_nodes(const std::vector<node<Cmd>> &nodes, const Cmd &cmd, std::string &out);
template <class Cmd>
std::string syntax_of(const std::vector<node<Cmd>> &nodes);

namespace detail {

// Whether `word` leads a group among nodes[from..]: an optional value stops before it.
template <class Cmd>
bool leads_later_group(const std::vector<node<Cmd>> &nodes, size_t from, std::string_view word) {
    for (size_t i = from; i < nodes.size(); ++i) {
        const auto &n = nodes[i];
        if (n.k == node<Cmd>::kind::group && n.text == word) return true;
        if (n.k == node<Cmd>::kind::any_order)
            for (const auto &g : n.children)
                if (g.text == word) return true;
    }
    return false;
}

template <class Cmd>
void read_group(const node<Cmd> &g, word_cursor &c, Cmd &cmd) {
    c.seek(c.pos() + 1);  // its keyword
    if (g.on) g.on(cmd);
    read_nodes_partial(g.children, c, cmd);
}

}  // namespace detail

template <class Cmd>
void read_nodes_partial(const std::vector<node<Cmd>> &nodes, word_cursor &c, Cmd &cmd) {
    using K = typename node<Cmd>::kind;
    for (size_t i = 0; i < nodes.size(); ++i) {
        const node<Cmd> &n = nodes[i];
        switch (n.k) {
            case K::keyword: c.expect(n.text); break;
            case K::choice: n.choose(cmd, c.expect_one_of(n.words)); break;
            case K::value: n.read(c, cmd); break;
            case K::optional_value:
                if (!c.at_end() && !detail::leads_later_group(nodes, i + 1, c.peek()))
                    n.read(c, cmd);
                break;
            case K::group:
                if (!c.at_end() && c.peek() == n.text) detail::read_group(n, c, cmd);
                break;
            case K::any_order:
                for (bool more = true; more && !c.at_end();) {
                    more = false;
                    for (const auto &g : n.children) {
                        if (c.peek() != g.text) continue;
                        detail::read_group(g, c, cmd);
                        more = true;
                        break;
                    }
                }
                break;
        }
    }
}

template <class Cmd>
void write_nodes(const std::vector<node<Cmd>> &nodes, const Cmd &cmd, std::string &out) {
    using K = typename node<Cmd>::kind;
    for (const node<Cmd> &n : nodes) {
        switch (n.k) {
            case K::keyword: (out += ' ') += n.text; break;
            case K::choice: (out += ' ') += n.words[n.chosen(cmd)]; break;
            case K::value: out += ' ', n.write(cmd, out); break;
            case K::optional_value:
                if (n.present(cmd)) out += ' ', n.write(cmd, out);
                break;
            case K::group:
                if (n.present(cmd)) (out += ' ') += n.text, write_nodes(n.children, cmd, out);
                break;
            case K::any_order: write_nodes(n.children, cmd, out); break;
        }
    }
}

template <class Cmd>
std::string syntax_of(const std::vector<node<Cmd>> &nodes) {
    using K = typename node<Cmd>::kind;
    std::string out;
    for (const node<Cmd> &n : nodes) {
        if (!out.empty()) out += ' ';
        switch (n.k) {
            case K::keyword:
            case K::value: out += n.text; break;
            case K::choice:
                for (size_t i = 0; i < n.words.size(); ++i) (i ? out += '|' : out) += n.words[i];
                break;
            case K::optional_value: out += '[' + n.text + ']'; break;
            case K::group: {
                const std::string rest = syntax_of(n.children);
                out += '[' + n.text + (rest.empty() ? "" : " " + rest) + ']';
                break;
            }
            case K::any_order: out += syntax_of(n.children); break;
        }
    }
    return out;
}

}  // namespace ssw::spec

#pragma GCC diagnostic pop
