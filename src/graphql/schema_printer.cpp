#include "graphql/schema.h"

// The schema as SDL, printed as graphql-js printSchema prints it, and literals as text.

#include <charconv>
#include <cmath>
#include <functional>
#include <limits>

#include "graphql/detail/coercion.h"
#include "graphql/detail/introspection.h"
#include "graphql/json.h"
#include "graphql/lexer.h"
#include "graphql/parser.h"

namespace psvc::graphql {

std::string PrintStringLiteral(std::string_view s) {
  std::string out = "\"";
  static const char* kHex = "0123456789ABCDEF";
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"':
        out += "\\\"";
        continue;
      case '\\':
        out += "\\\\";
        continue;
      case '\b':
        out += "\\b";
        continue;
      case '\t':
        out += "\\t";
        continue;
      case '\n':
        out += "\\n";
        continue;
      case '\f':
        out += "\\f";
        continue;
      case '\r':
        out += "\\r";
        continue;
      default:
        break;
    }
    if (c < 0x20 || c == 0x7F) {
      out += "\\u00";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
      continue;
    }
    // graphql-js also escapes U+0080..U+009F (C1 controls), encoded as C2 80..C2 9F.
    if (c == 0xC2 && i + 1 < s.size()) {
      unsigned char c2 = static_cast<unsigned char>(s[i + 1]);
      if (c2 >= 0x80 && c2 <= 0x9F) {
        out += "\\u00";
        out.push_back(kHex[c2 >> 4]);
        out.push_back(kHex[c2 & 15]);
        ++i;
        continue;
      }
    }
    out.push_back(static_cast<char>(c));
  }
  out.push_back('"');
  return out;
}

std::string PrintValueNode(const ValueNode& n) {
  switch (n.kind) {
    case ValueNodeKind::kVariable:
      return "$" + std::string(n.text);
    case ValueNodeKind::kInt:
    case ValueNodeKind::kFloat:
    case ValueNodeKind::kEnum:
      return std::string(n.text);
    case ValueNodeKind::kString:
      return PrintStringLiteral(n.string);
    case ValueNodeKind::kBoolean:
      return n.boolean ? "true" : "false";
    case ValueNodeKind::kNull:
      return "null";
    case ValueNodeKind::kList: {
      std::string out = "[";
      for (size_t i = 0; i < n.list.size(); ++i) {
        if (i) out += ", ";
        out += PrintValueNode(n.list[i]);
      }
      return out + "]";
    }
    case ValueNodeKind::kObject: {
      std::string out = "{";
      for (size_t i = 0; i < n.fields.size(); ++i) {
        if (i) out += ", ";
        out += std::string(n.fields[i].name) + ": " + PrintValueNode(n.fields[i].value);
      }
      return out + "}";
    }
  }
  return "";
}

std::string PrintLiteral(const Value& v, const Type* type) {
  if (type->kind == TypeKind::kNonNull) return PrintLiteral(v, type->of_type);
  if (v.IsNull()) return "null";
  switch (type->kind) {
    case TypeKind::kList: {
      if (!v.IsList()) return PrintLiteral(v, type->of_type);
      std::string out = "[";
      const auto& l = v.AsList();
      for (size_t i = 0; i < l.size(); ++i) {
        if (i) out += ", ";
        out += PrintLiteral(l[i], type->of_type);
      }
      return out + "]";
    }
    case TypeKind::kInputObject: {
      std::string out = "{";
      bool first = true;
      for (const auto& f : type->input_fields) {
        const Value* fv = v.Find(f.name);
        if (!fv) continue;
        if (!first) out += ", ";
        first = false;
        out += f.name + ": " + PrintLiteral(*fv, f.type);
      }
      return out + "}";
    }
    case TypeKind::kEnum:
      return v.IsEnum() ? v.AsEnum() : std::string(v.AsString());
    default:
      break;
  }
  if (v.IsBool()) return v.AsBool() ? "true" : "false";
  if (v.IsInt()) return std::to_string(v.AsInt());
  if (v.IsFloat()) {
    std::string s;
    AppendJsNumber(s, v.AsNumber());
    return s;
  }
  if (v.IsString()) {
    std::string_view s = v.AsString();
    // astFromValue prints integer-looking IDs as Int literals.
    if (type->name == "ID" && !s.empty()) {
      int64_t i;
      bool is_int = (s == "0" || (s[0] != '0' && !(s[0] == '-' && s.size() > 1 && s[1] == '0'))) &&
                    detail::ParseInt(s, &i);
      if (is_int) return std::string(s);
    }
    return PrintStringLiteral(s);
  }
  if (v.IsEnum()) return v.AsEnum();
  return "null";
}

namespace {

bool IsPrintableAsBlockString(std::string_view value) {
  if (value.empty()) return true;
  bool is_empty_line = true, has_indent = false, has_common_indent = true, seen_non_empty = false;
  for (unsigned char c : value) {
    switch (c) {
      case 0x00:
      case 0x01:
      case 0x02:
      case 0x03:
      case 0x04:
      case 0x05:
      case 0x06:
      case 0x07:
      case 0x08:
      case 0x0B:
      case 0x0C:
      case 0x0E:
      case 0x0F:
      case 0x0D:
        return false;
      case '\n':
        if (is_empty_line && !seen_non_empty) return false;
        seen_non_empty = true;
        is_empty_line = true;
        has_indent = false;
        break;
      case '\t':
      case ' ':
        has_indent = has_indent || is_empty_line;
        break;
      default:
        has_common_indent = has_common_indent && has_indent;
        is_empty_line = false;
    }
  }
  if (is_empty_line) return false;
  if (has_common_indent && seen_non_empty) return false;
  return true;
}

size_t Utf16Length(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) {
    if ((c & 0xC0) != 0x80) n += (c >= 0xF0) ? 2 : 1;
  }
  return n;
}

std::string PrintBlockString(std::string_view value) {
  std::string escaped;
  for (size_t i = 0; i < value.size(); ++i) {
    if (value.substr(i, 3) == "\"\"\"") {
      escaped += "\\\"\"\"";
      i += 2;
    } else {
      escaped.push_back(value[i]);
    }
  }
  std::vector<std::string_view> lines;
  {
    std::string_view e = escaped;
    size_t b = 0;
    for (size_t i = 0; i <= e.size(); ++i) {
      if (i == e.size() || e[i] == '\n') {
        lines.push_back(e.substr(b, i - b));
        b = i + 1;
      }
    }
  }
  auto ws = [](char c) { return c == ' ' || c == '\t'; };
  bool single = lines.size() == 1;
  bool force_leading = lines.size() > 1;
  for (size_t i = 1; i < lines.size() && force_leading; ++i) {
    if (!lines[i].empty() && !ws(lines[i][0])) force_leading = false;
  }
  bool trailing_triple = escaped.size() >= 4 && escaped.ends_with("\\\"\"\"");
  bool trailing_quote = !value.empty() && value.back() == '"' && !trailing_triple;
  bool trailing_slash = !value.empty() && value.back() == '\\';
  bool force_trailing = trailing_quote || trailing_slash;
  bool multiple =
      !single || Utf16Length(value) > 70 || force_trailing || force_leading || trailing_triple;
  bool skip_leading = single && !value.empty() && ws(value[0]);
  std::string out = "\"\"\"";
  if ((multiple && !skip_leading) || force_leading) out += "\n";
  out += escaped;
  if (multiple || force_trailing) out += "\n";
  return out + "\"\"\"";
}

std::string PrintDescription(const std::string& description, bool has, const std::string& indent,
                             bool first_in_block) {
  if (!has) return "";
  std::string block = IsPrintableAsBlockString(description) ? PrintBlockString(description)
                                                            : PrintStringLiteral(description);
  std::string out = indent.empty() || first_in_block ? indent : "\n" + indent;
  for (char c : block) {
    out.push_back(c);
    if (c == '\n') out += indent;
  }
  return out + "\n";
}

std::string PrintDeprecated(const std::optional<std::string>& reason) {
  if (!reason) return "";
  if (*reason == "No longer supported") return " @deprecated";
  return " @deprecated(reason: " + PrintStringLiteral(*reason) + ")";
}

std::string PrintInputValue(const InputValueDef& a) {
  std::string out = a.name + ": " + a.type->ToString();
  if (a.default_value) out += " = " + PrintLiteral(*a.default_value, a.type);
  return out + PrintDeprecated(a.deprecation_reason);
}

std::string PrintArgs(const std::vector<InputValueDef>& args, const std::string& indent) {
  if (args.empty()) return "";
  bool any_description = false;
  for (const auto& a : args) any_description = any_description || !a.description.empty();
  std::string out = "(";
  if (!any_description) {
    for (size_t i = 0; i < args.size(); ++i) {
      if (i) out += ", ";
      out += PrintInputValue(args[i]);
    }
    return out + ")";
  }
  out += "\n";
  for (size_t i = 0; i < args.size(); ++i) {
    if (i) out += "\n";
    out +=
        PrintDescription(args[i].description, !args[i].description.empty(), "  " + indent, i == 0) +
        "  " + indent + PrintInputValue(args[i]);
  }
  return out + "\n" + indent + ")";
}

std::string PrintBlock(const std::vector<std::string>& items) {
  if (items.empty()) return "";
  std::string out = " {\n";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += "\n";
    out += items[i];
  }
  return out + "\n}";
}

}  // namespace

std::string Schema::PrintSdl() const {
  std::vector<std::string> parts;
  bool common = (!query_ || query_->name == "Query") &&
                (!mutation_ || mutation_->name == "Mutation") &&
                (!subscription_ || subscription_->name == "Subscription");
  if (!description_.empty() || !common) {
    std::string s = PrintDescription(description_, !description_.empty(), "", true) + "schema {\n";
    if (query_) s += "  query: " + query_->name + "\n";
    if (mutation_) s += "  mutation: " + mutation_->name + "\n";
    if (subscription_) s += "  subscription: " + subscription_->name + "\n";
    parts.push_back(s + "}");
  }
  for (const Type* t : ordered_) {
    if (t->name.starts_with("__") || detail::IsBuiltinScalar(t->name)) continue;
    std::string s = PrintDescription(t->description, !t->description.empty(), "", true);
    auto implements = [&] {
      std::string out;
      for (size_t i = 0; i < t->interfaces.size(); ++i) {
        out += (i ? " & " : " implements ") + t->interfaces[i]->name;
      }
      return out;
    };
    auto fields = [&] {
      std::vector<std::string> items;
      for (size_t i = 0; i < t->fields.size(); ++i) {
        const FieldDef& f = t->fields[i];
        items.push_back(PrintDescription(f.description, !f.description.empty(), "  ", i == 0) +
                        "  " + f.name + PrintArgs(f.args, "  ") + ": " + f.type->ToString() +
                        PrintDeprecated(f.deprecation_reason));
      }
      return PrintBlock(items);
    };
    switch (t->kind) {
      case TypeKind::kScalar:
        s += "scalar " + t->name;
        if (t->specified_by_url)
          s += " @specifiedBy(url: " + PrintStringLiteral(*t->specified_by_url) + ")";
        break;
      case TypeKind::kObject:
        s += "type " + t->name + implements() + fields();
        break;
      case TypeKind::kInterface:
        s += "interface " + t->name + implements() + fields();
        break;
      case TypeKind::kUnion: {
        s += "union " + t->name;
        for (size_t i = 0; i < t->possible_types.size(); ++i) {
          s += (i ? " | " : " = ") + t->possible_types[i]->name;
        }
        break;
      }
      case TypeKind::kEnum: {
        std::vector<std::string> items;
        for (size_t i = 0; i < t->enum_values.size(); ++i) {
          const auto& v = t->enum_values[i];
          items.push_back(PrintDescription(v.description, !v.description.empty(), "  ", i == 0) +
                          "  " + v.name + PrintDeprecated(v.deprecation_reason));
        }
        s += "enum " + t->name + PrintBlock(items);
        break;
      }
      case TypeKind::kInputObject: {
        std::vector<std::string> items;
        for (size_t i = 0; i < t->input_fields.size(); ++i) {
          const auto& f = t->input_fields[i];
          items.push_back(PrintDescription(f.description, !f.description.empty(), "  ", i == 0) +
                          "  " + PrintInputValue(f));
        }
        s += "input " + t->name + PrintBlock(items);
        break;
      }
      default:
        break;
    }
    parts.push_back(std::move(s));
  }
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i) out += "\n\n";
    out += parts[i];
  }
  return out;
}

}  // namespace psvc::graphql
