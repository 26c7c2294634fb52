#pragma once
/// The generator's own pseudo-random numbers. std:: distributions differ between standard
/// libraries, so every distribution here is written out: the same seed gives the same
/// catalogue with any compiler.

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace psvc::dataset::detail {

/// SplitMix64 step: seeds xoshiro and mixes keys into well-spread 64-bit values.
constexpr uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/// Hashes (a, b) into one well-mixed value.
constexpr uint64_t Mix(uint64_t a, uint64_t b) {
  uint64_t state = a ^ (b * 0xD1B54A32D192ED03ull);
  SplitMix64(state);
  return SplitMix64(state);
}

/// xoshiro256** seeded from (seed, stream): independent streams per table or entity make each
/// part of the catalogue independent of how much randomness the others consumed.
class Rng {
 public:
  Rng(uint64_t seed, uint64_t stream) {
    uint64_t state = Mix(seed, stream);
    for (auto& word : s_) word = SplitMix64(state);
  }

  uint64_t Next() {
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }

  /// Uniform in [0, n); n > 0. Lemire's multiply-shift with rejection (no modulo bias).
  uint64_t Below(uint64_t n) {
    unsigned __int128 m = static_cast<unsigned __int128>(Next()) * n;
    auto low = static_cast<uint64_t>(m);
    if (low < n) {
      const uint64_t threshold = (0 - n) % n;
      while (low < threshold) {
        m = static_cast<unsigned __int128>(Next()) * n;
        low = static_cast<uint64_t>(m);
      }
    }
    return static_cast<uint64_t>(m >> 64);
  }

  /// Uniform integer in [lo, hi] (inclusive).
  int64_t Between(int64_t lo, int64_t hi) {
    return lo + static_cast<int64_t>(Below(static_cast<uint64_t>(hi - lo) + 1));
  }

  /// Uniform in [0, 1) with 53 random bits.
  double Unit() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

  bool Chance(double p) { return Unit() < p; }

  /// Pareto with minimum 1 and tail index `alpha`: P(X > x) = x^-alpha.
  double Pareto(double alpha) { return std::pow(1.0 - Unit(), -1.0 / alpha); }

  /// Approximately standard normal (Irwin–Hall with 4 terms): bounded at ±3.46, which is what
  /// we want for scores anyway, and needs no transcendental functions.
  double Normalish() { return (Unit() + Unit() + Unit() + Unit() - 2.0) * 1.7320508075688772; }

  /// An index drawn with probability proportional to weights[i] (a short table).
  template <typename Weights>
  size_t Pick(const Weights& weights) {
    double total = 0;
    for (double w : weights) total += w;
    double x = Unit() * total;
    size_t i = 0;
    for (double w : weights) {
      if (x < w) return i;
      x -= w;
      ++i;
    }
    return i - 1;
  }

 private:
  static constexpr uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

  uint64_t s_[4];
};

/// Draws from a fixed discrete distribution in O(log n) (cumulative table + binary search).
class WeightedTable {
 public:
  explicit WeightedTable(const std::vector<double>& weights) {
    cumulative_.reserve(weights.size());
    double total = 0;
    for (double w : weights) cumulative_.push_back(total += w);
  }
  size_t size() const { return cumulative_.size(); }
  size_t Sample(Rng& rng) const {
    const double x = rng.Unit() * cumulative_.back();
    size_t lo = 0, hi = cumulative_.size() - 1;
    while (lo < hi) {
      size_t mid = (lo + hi) / 2;
      if (x < cumulative_[mid]) {
        hi = mid;
      } else {
        lo = mid + 1;
      }
    }
    return lo;
  }

 private:
  std::vector<double> cumulative_;
};

/// A UUID derived from (seed, kind, index), shaped like RFC 4122 version 4 (random) so that it
/// passes the same validation as producer-assigned ids.
inline void AppendUuid(std::string& out, uint64_t seed, uint64_t kind, uint64_t index) {
  uint64_t state = Mix(Mix(seed, kind), index);
  uint64_t hi = SplitMix64(state);
  uint64_t lo = SplitMix64(state);
  hi = (hi & ~0xF000ull) | 0x4000ull;                // version 4
  lo = (lo & 0x3FFFFFFFFFFFFFFFull) | (1ull << 63);  // variant 10xx
  static constexpr char kHex[] = "0123456789abcdef";
  char buf[36];
  int pos = 0;
  for (int i = 0; i < 32; ++i) {
    if (i == 8 || i == 12 || i == 16 || i == 20) buf[pos++] = '-';
    const uint64_t word = i < 16 ? hi : lo;
    const int shift = 60 - 4 * (i % 16);
    buf[pos++] = kHex[(word >> shift) & 0xF];
  }
  out.append(buf, sizeof buf);
}

}  // namespace psvc::dataset::detail
