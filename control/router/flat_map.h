// A hash map from non-zero 32-bit keys (IPv4 addresses) to small values, for the control
// plane's model of up to a /8 of bindings: one array of (key, value) slots, no allocation per
// entry, one cache miss per lookup. std::unordered_map took well over 100 bytes per binding and
// several dependent misses per update at a million bindings (a node per entry, reached
// through a bucket array).
//
// Linear probing; a slot whose key is 0 is empty, so 0 cannot be a key. Erasing shifts the
// entries behind it back (no tombstones: probe sequences stay short however many bindings
// have come and gone). The table doubles when it would pass 3/4 full, so its memory follows
// the bindings held, not the capacity configured (rehashing a million entries takes tens of
// milliseconds of the control thread; forwarding goes on). Inserting and erasing invalidate
// iterators and pointers into the map. One thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace ssw {

template <typename V>
class flat_map {
public:
    using value_type = std::pair<uint32_t, V>;

    template <typename Slot>
    class basic_iterator {
    public:
        using iterator_category = std::forward_iterator_tag;
        using value_type = std::remove_const_t<Slot>;
        using difference_type = std::ptrdiff_t;
        using pointer = Slot *;
        using reference = Slot &;

        basic_iterator() = default;
        basic_iterator(Slot *p, Slot *end) : p_(p), end_(end) { skip(); }
        Slot &operator*() const { return *p_; }
        Slot *operator->() const { return p_; }
        basic_iterator &operator++() {
            ++p_;
            skip();
            return *this;
        }
        basic_iterator operator++(int) {
            basic_iterator was = *this;
            ++*this;
            return was;
        }
        bool operator==(const basic_iterator &o) const { return p_ == o.p_; }
        Slot *slot() const { return p_; }

    private:
        void skip() {
            while (p_ != end_ && p_->first == 0) ++p_;
        }
        Slot *p_ = nullptr;
        Slot *end_ = nullptr;
    };
    using iterator = basic_iterator<value_type>;
    using const_iterator = basic_iterator<const value_type>;

    flat_map() = default;
    flat_map(const flat_map &o) { *this = o; }
    flat_map &operator=(const flat_map &o) {
        if (this == &o) return *this;
        alloc(o.n_slots_);
        for (size_t i = 0; i < n_slots_; ++i) slots_[i] = o.slots_[i];
        size_ = o.size_;
        return *this;
    }
    // A moved-from map is empty (and usable).
    flat_map(flat_map &&o) noexcept
        : slots_(std::move(o.slots_)),
          n_slots_(std::exchange(o.n_slots_, 0)),
          size_(std::exchange(o.size_, 0)) {}
    flat_map &operator=(flat_map &&o) noexcept {
        slots_ = std::move(o.slots_);
        n_slots_ = std::exchange(o.n_slots_, 0);
        size_ = std::exchange(o.size_, 0);
        return *this;
    }

    size_t size() const { return size_; }
    bool empty() const { return size_ == 0; }
    void clear() {
        for (size_t i = 0; i < n_slots_; ++i) slots_[i] = value_type{};
        size_ = 0;
    }

    iterator begin() { return {slots_.get(), slots_.get() + n_slots_}; }
    iterator end() { return {slots_.get() + n_slots_, slots_.get() + n_slots_}; }
    const_iterator begin() const { return {slots_.get(), slots_.get() + n_slots_}; }
    const_iterator end() const { return {slots_.get() + n_slots_, slots_.get() + n_slots_}; }

    iterator find(uint32_t key) { return {slots_.get() + index_of(key), slots_.get() + n_slots_}; }
    const_iterator find(uint32_t key) const {
        return {slots_.get() + index_of(key), slots_.get() + n_slots_};
    }
    size_t count(uint32_t key) const { return find(key) == end() ? 0 : 1; }
    const V &at(uint32_t key) const {
        const auto it = find(key);
        if (it == end()) throw std::out_of_range("flat_map::at");
        return it->second;
    }

    // The value of key, inserted (value-initialized) when absent. Key 0 is refused.
    V &operator[](uint32_t key) {
        if (key == 0) throw std::invalid_argument("flat_map: key 0 is reserved");
        if (const size_t i = index_of(key); i != n_slots_) return slots_[i].second;
        if ((size_ + 1) * 4 > n_slots_ * 3) rehash(n_slots_ ? n_slots_ * 2 : 16);
        size_t i = home(key);
        while (slots_[i].first != 0) i = next(i);
        slots_[i] = value_type{key, V{}};
        ++size_;
        return slots_[i].second;
    }

    // Removes key; false when absent.
    bool erase(uint32_t key) {
        const size_t i = index_of(key);
        if (i == n_slots_) return false;
        erase_slot(i);
        return true;
    }
    void erase(iterator it) { erase_slot(size_t(it.slot() - slots_.get())); }

    // Bytes the table holds (its slots), for reports.
    size_t memory_bytes() const { return n_slots_ * sizeof(value_type); }

private:
    // A 64-bit multiplicative mix (addresses are often consecutive), then the high bits
    // scaled to the table.
    size_t home(uint32_t key) const {
        const uint64_t h = (uint64_t(key) * 0x9e3779b97f4a7c15ull) >> 32;
        return size_t((h * n_slots_) >> 32);
    }
    size_t next(size_t i) const { return i + 1 == n_slots_ ? 0 : i + 1; }

    // The slot holding key, or n_slots_.
    size_t index_of(uint32_t key) const {
        if (n_slots_ == 0 || key == 0) return n_slots_;
        for (size_t i = home(key);; i = next(i)) {
            if (slots_[i].first == key) return i;
            if (slots_[i].first == 0) return n_slots_;
        }
    }

    // Backward-shift deletion: every entry after the hole that may sit there (its home is
    // not cyclically in (hole, its slot]) moves into it, until an empty slot ends the run.
    void erase_slot(size_t hole) {
        for (size_t i = next(hole);; i = next(i)) {
            if (slots_[i].first == 0) break;
            const size_t h = home(slots_[i].first);
            const bool stays = hole < i ? (hole < h && h <= i) : (hole < h || h <= i);
            if (stays) continue;
            slots_[hole] = std::move(slots_[i]);
            hole = i;
        }
        slots_[hole] = value_type{};
        --size_;
    }

    void alloc(size_t n) {
        slots_ = std::make_unique<value_type[]>(n);  // value-initialized: every key 0
        n_slots_ = n;
    }
    void rehash(size_t n) {
        std::unique_ptr<value_type[]> old = std::move(slots_);
        const size_t old_n = n_slots_;
        alloc(n);
        for (size_t i = 0; i < old_n; ++i) {
            if (old[i].first == 0) continue;
            size_t j = home(old[i].first);
            while (slots_[j].first != 0) j = next(j);
            slots_[j] = std::move(old[i]);
        }
    }

    std::unique_ptr<value_type[]> slots_;
    size_t n_slots_ = 0;
    size_t size_ = 0;
};

}  // namespace ssw
