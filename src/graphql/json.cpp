#include "graphql/json.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <rapidjson/encodedstream.h>
#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

#include "json/json_string.h"

namespace psvc::graphql {

void AppendJsNumber(std::string& out, double d) {
  if (std::isnan(d) || std::isinf(d)) {
    out.append("null");  // JSON has no NaN/Infinity; graphql-js never serializes them
    return;
  }
  if (d == 0) {
    out.push_back('0');
    return;
  }
  if (d < 0) {
    out.push_back('-');
    d = -d;
  }
  // Shortest round-trip digits, then laid out per ECMAScript Number::toString.
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string_view sci(buf, static_cast<size_t>(res.ptr - buf));
  size_t e = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, e)) {
    if (c != '.') digits.push_back(c);
  }
  int exp10 = std::atoi(std::string(sci.substr(e + 1)).c_str());
  int k = static_cast<int>(digits.size());
  int n = exp10 + 1;
  if (k <= n && n <= 21) {
    out.append(digits);
    out.append(static_cast<size_t>(n - k), '0');
  } else if (0 < n && n <= 21) {
    out.append(digits, 0, static_cast<size_t>(n));
    out.push_back('.');
    out.append(digits, static_cast<size_t>(n), std::string::npos);
  } else if (-6 < n && n <= 0) {
    out.append("0.");
    out.append(static_cast<size_t>(-n), '0');
    out.append(digits);
  } else {
    out.push_back(digits[0]);
    if (k > 1) {
      out.push_back('.');
      out.append(digits, 1, std::string::npos);
    }
    out.push_back('e');
    out.push_back(n - 1 >= 0 ? '+' : '-');
    out.append(std::to_string(std::abs(n - 1)));
  }
}

void AppendJson(std::string& out, const Value& value) {
  struct Visitor {
    std::string& out;
    void operator()(std::monostate) { out.append("null"); }
    void operator()(bool b) { out.append(b ? "true" : "false"); }
    void operator()(int64_t i) {
      char buf[24];
      auto r = std::to_chars(buf, buf + sizeof buf, i);
      out.append(buf, r.ptr);
    }
    void operator()(double d) { AppendJsNumber(out, d); }
    void operator()(const std::string& s) { json::AppendQuoted(out, s); }
    void operator()(const StringRef& s) { json::AppendQuoted(out, s.view); }
    void operator()(const EnumValue& e) { json::AppendQuoted(out, e.name); }
    void operator()(const ValueList& l) {
      out.push_back('[');
      for (size_t i = 0; i < l.size(); ++i) {
        if (i) out.push_back(',');
        AppendJson(out, l[i]);
      }
      out.push_back(']');
    }
    void operator()(const ValueMap& m) {
      out.push_back('{');
      for (size_t i = 0; i < m.size(); ++i) {
        if (i) out.push_back(',');
        json::AppendQuoted(out, m[i].first);
        out.push_back(':');
        AppendJson(out, m[i].second);
      }
      out.push_back('}');
    }
    void operator()(const OpaqueObject&) { out.append("null"); }
    void operator()(const FieldError&) { out.append("null"); }
    void operator()(const ValueRef& r) { AppendJson(out, *r.target); }
  };
  std::visit(Visitor{out}, value.storage());
}

namespace {

// The GraphQL depth limit is far below it, so no valid request needs more.
constexpr size_t kMaxJsonDepth = JsonLimits::kMaxDepth;

// Builds Values straight from RapidJSON's SAX events. With kParseIterativeFlag the reader keeps
// its own stack instead of recursing, and this handler refuses to open a container beyond
// kMaxJsonDepth, so neither parsing nor destroying the result can exhaust the call stack
// whatever the input nests.
class ValueBuilder : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, ValueBuilder> {
 public:
  explicit ValueBuilder(size_t max_values) : values_left_(max_values) {}

  bool too_deep = false;
  bool too_many = false;
  bool number_too_big = false;

  bool Null() { return AddScalar(Value()); }
  bool Bool(bool b) { return AddScalar(Value(b)); }
  bool Int(int i) { return AddScalar(Value(int64_t{i})); }
  bool Uint(unsigned u) { return AddScalar(Value(int64_t{u})); }
  bool Int64(int64_t i) { return AddScalar(Value(i)); }
  bool Uint64(uint64_t u) {
    if (u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return AddScalar(Value(static_cast<int64_t>(u)));
    }
    return AddScalar(Value(static_cast<double>(u)));
  }
  bool Double(double d) { return AddScalar(Value(d)); }
  // Numbers arrive as text (kParseNumbersAsStringsFlag): RapidJSON's full-precision double
  // parser misreads a zero significand with an exponent ("0e99" became 6.5e+296), and its
  // default one is not correctly rounded. Integers that fit int64 stay integers.
  bool RawNumber(const char* s, rapidjson::SizeType n, bool) {
    std::string_view text(s, n);
    if (text.find_first_of(".eE") == std::string_view::npos) {
      int64_t i = 0;
      auto [end, ec] = std::from_chars(s, s + n, i);
      if (ec == std::errc() && end == s + n) return AddScalar(Value(i));
    }
    // strtod: correctly rounded; underflow gives 0 as JSON.parse does, overflow infinity.
    double d = std::strtod(std::string(text).c_str(), nullptr);
    if (std::isinf(d)) {
      number_too_big = true;
      return false;
    }
    return AddScalar(Value(d));
  }
  bool String(const char* s, rapidjson::SizeType n, bool) {
    return AddScalar(Value(std::string(s, n)));
  }
  bool Key(const char* s, rapidjson::SizeType n, bool) {
    stack_.back().key.assign(s, n);
    return true;
  }
  bool StartObject() { return Open(true); }
  bool StartArray() { return Open(false); }
  bool EndObject(rapidjson::SizeType) {
    Frame f = std::move(stack_.back());
    stack_.pop_back();
    return Add(Value(DropDuplicateKeys(std::move(f.map))));
  }
  bool EndArray(rapidjson::SizeType) {
    Frame f = std::move(stack_.back());
    stack_.pop_back();
    return Add(Value(std::move(f.list)));
  }

  Value Take() { return std::move(root_); }

 private:
  struct Frame {
    bool is_map = false;
    std::string key;  // the member whose value comes next (objects)
    ValueMap map;
    ValueList list;
  };

  bool Count() {
    if (values_left_ == 0) {
      too_many = true;
      return false;  // stops the reader at once
    }
    --values_left_;
    return true;
  }

  bool Open(bool is_map) {
    if (stack_.size() >= kMaxJsonDepth) {
      too_deep = true;
      return false;
    }
    if (!Count()) return false;
    stack_.emplace_back().is_map = is_map;
    return true;
  }

  // A scalar: counted here; a finished array or object was counted when it opened.
  bool AddScalar(Value v) { return Count() && Add(std::move(v)); }

  bool Add(Value v) {
    if (stack_.empty()) {
      root_ = std::move(v);
    } else if (Frame& f = stack_.back(); f.is_map) {
      f.map.emplace_back(std::move(f.key), std::move(v));
    } else {
      f.list.push_back(std::move(v));
    }
    return true;
  }

  // Duplicate keys as JSON.parse treats them: the member keeps its first position and takes
  // the last value. Linear: small objects compare directly, larger ones use a hash index.
  static ValueMap DropDuplicateKeys(ValueMap map) {
    if (map.size() < 2) return map;
    ValueMap out;
    out.reserve(map.size());
    if (map.size() <= 8) {
      for (auto& member : map) {
        auto same = std::find_if(out.begin(), out.end(),
                                 [&](const auto& m) { return m.first == member.first; });
        if (same == out.end()) {
          out.push_back(std::move(member));
        } else {
          same->second = std::move(member.second);
        }
      }
      return out;
    }
    // Views into `map`'s keys, which stay in place until every slot is known.
    std::unordered_map<std::string_view, size_t> index;
    index.reserve(map.size());
    std::vector<size_t> slot(map.size());
    std::vector<bool> first(map.size());
    for (size_t i = 0; i < map.size(); ++i) {
      auto [it, fresh] = index.try_emplace(map[i].first, index.size());
      slot[i] = it->second;
      first[i] = fresh;
    }
    if (index.size() == map.size()) return map;  // no duplicates: keep the vector as it is
    out.resize(index.size());
    for (size_t i = 0; i < map.size(); ++i) {
      if (first[i]) out[slot[i]].first = std::move(map[i].first);
      out[slot[i]].second = std::move(map[i].second);
    }
    return out;
  }

  std::vector<Frame> stack_;
  Value root_;
  size_t values_left_;
};

}  // namespace

std::optional<Value> ParseJson(std::string_view text, std::string* error,
                               const JsonLimits& limits) {
  // No kParseStopWhenDoneFlag: anything but whitespace after the document is an error.
  rapidjson::Reader reader;
  rapidjson::MemoryStream ms(text.data(), text.size());
  rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream> in(ms);
  ValueBuilder builder(limits.max_values);
  rapidjson::ParseResult ok =
      reader.Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseNumbersAsStringsFlag |
                   rapidjson::kParseValidateEncodingFlag>(in, builder);
  if (!ok) {
    if (error) {
      if (builder.too_deep) {
        *error = "JSON nests deeper than " + std::to_string(kMaxJsonDepth) +
                 " arrays and objects (at offset " + std::to_string(ok.Offset()) + ").";
      } else if (builder.number_too_big) {
        *error = "Invalid JSON: a number too big for a double at offset " +
                 std::to_string(ok.Offset()) + ".";
      } else if (builder.too_many) {
        *error = "JSON holds more than " + std::to_string(limits.max_values) +
                 " values (at offset " + std::to_string(ok.Offset()) + ").";
      } else {
        *error = std::string("Invalid JSON: ") + rapidjson::GetParseError_En(ok.Code()) +
                 " at offset " + std::to_string(ok.Offset()) + ".";
      }
    }
    return std::nullopt;
  }
  return builder.Take();
}

std::string Inspect(const Value& ref) {
  const Value& value = ref.Deref();
  if (value.IsOpaque()) return "{}";
  std::string out;
  if (value.IsMap()) {
    const ValueMap& m = value.AsMap();
    if (m.empty()) return "{}";
    out = "{ ";
    for (size_t i = 0; i < m.size(); ++i) {
      if (i) out += ", ";
      out += m[i].first + ": " + Inspect(m[i].second);
    }
    return out + " }";
  }
  if (value.IsList()) {
    out = "[";
    const ValueList& l = value.AsList();
    for (size_t i = 0; i < l.size(); ++i) {
      if (i) out += ", ";
      out += Inspect(l[i]);
    }
    return out + "]";
  }
  if (value.IsEnum()) {
    json::AppendQuoted(out, value.AsEnum());
    return out;
  }
  AppendJson(out, value);
  return out;
}

}  // namespace psvc::graphql
