#include "graphql/json.h"

#include <charconv>
#include <cmath>
#include <cstdio>

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

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

constexpr int kMaxJsonDepth = 64;

std::optional<Value> FromRapid(const rapidjson::Value& v, int depth) {
  if (depth > kMaxJsonDepth) return std::nullopt;
  switch (v.GetType()) {
    case rapidjson::kNullType:
      return Value();
    case rapidjson::kFalseType:
      return Value(false);
    case rapidjson::kTrueType:
      return Value(true);
    case rapidjson::kStringType:
      return Value(std::string(v.GetString(), v.GetStringLength()));
    case rapidjson::kNumberType:
      if (v.IsInt64()) return Value(v.GetInt64());
      return Value(v.GetDouble());
    case rapidjson::kArrayType: {
      ValueList list;
      list.reserve(v.Size());
      for (const auto& item : v.GetArray()) {
        auto x = FromRapid(item, depth + 1);
        if (!x) return std::nullopt;
        list.push_back(std::move(*x));
      }
      return Value(std::move(list));
    }
    case rapidjson::kObjectType: {
      ValueMap map;
      map.reserve(v.MemberCount());
      for (const auto& m : v.GetObject()) {
        auto x = FromRapid(m.value, depth + 1);
        if (!x) return std::nullopt;
        std::string key(m.name.GetString(), m.name.GetStringLength());
        // Duplicate keys: the last one wins, as in JSON.parse.
        bool replaced = false;
        for (auto& [k, old] : map) {
          if (k == key) {
            old = std::move(*x);
            replaced = true;
          }
        }
        if (!replaced) map.emplace_back(std::move(key), std::move(*x));
      }
      return Value(std::move(map));
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<Value> ParseJson(std::string_view text, std::string* error) {
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseFullPrecisionFlag | rapidjson::kParseStopWhenDoneFlag>(text.data(),
                                                                                    text.size());
  if (doc.HasParseError()) {
    if (error) {
      *error = std::string("Invalid JSON: ") + rapidjson::GetParseError_En(doc.GetParseError()) +
               " at offset " + std::to_string(doc.GetErrorOffset()) + ".";
    }
    return std::nullopt;
  }
  auto v = FromRapid(doc, 0);
  if (!v && error) *error = "JSON nests too deeply.";
  return v;
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
