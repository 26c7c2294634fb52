#include "graphql/schema.h"

// Input coercion (literals, variables) and output serialization of leaf values, spec §3.5-3.9
// and §5.6 / §6.4.

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

namespace {

bool FitsInt32(int64_t v) {
  return v >= std::numeric_limits<int32_t>::min() && v <= std::numeric_limits<int32_t>::max();
}

// Literal without a type (custom scalars' input, graphql-js valueFromASTUntyped).
std::optional<Value> UntypedLiteral(const ValueNode& n, const ValueMap* variables) {
  switch (n.kind) {
    case ValueNodeKind::kNull:
      return Value();
    case ValueNodeKind::kBoolean:
      return Value(n.boolean);
    case ValueNodeKind::kString:
      return Value(n.string);
    case ValueNodeKind::kEnum:
      return Value(std::string(n.text));
    case ValueNodeKind::kInt: {
      int64_t i;
      if (detail::ParseInt(n.text, &i)) return Value(i);
      return Value(std::strtod(std::string(n.text).c_str(), nullptr));
    }
    case ValueNodeKind::kFloat:
      return Value(std::strtod(std::string(n.text).c_str(), nullptr));
    case ValueNodeKind::kList: {
      ValueList l;
      for (const auto& item : n.list) {
        auto v = UntypedLiteral(item, variables);
        if (!v) return std::nullopt;
        l.push_back(std::move(*v));
      }
      return Value(std::move(l));
    }
    case ValueNodeKind::kObject: {
      ValueMap m;
      for (const auto& f : n.fields) {
        auto v = UntypedLiteral(f.value, variables);
        if (!v) return std::nullopt;
        m.emplace_back(std::string(f.name), std::move(*v));
      }
      return Value(std::move(m));
    }
    case ValueNodeKind::kVariable: {
      if (!variables) return Value();
      for (const auto& [k, v] : *variables) {
        if (k == n.text) return v;
      }
      return Value();
    }
  }
  return std::nullopt;
}

std::optional<Value> CoerceScalarLiteral(const ValueNode& n, const Type* t,
                                         const ValueMap* variables, std::string* error) {
  const std::string& name = t->name;
  auto bad = [&](std::string why) -> std::optional<Value> {
    if (error) *error = std::move(why);
    return std::nullopt;
  };
  if (name == "Int") {
    if (n.kind != ValueNodeKind::kInt) {
      return bad("Int cannot represent non-integer value: " + PrintValueNode(n));
    }
    int64_t i;
    if (!detail::ParseInt(n.text, &i) || !FitsInt32(i)) {
      return bad("Int cannot represent non 32-bit signed integer value: " + std::string(n.text));
    }
    return Value(i);
  }
  if (name == "Float") {
    if (n.kind != ValueNodeKind::kInt && n.kind != ValueNodeKind::kFloat) {
      return bad("Float cannot represent non numeric value: " + PrintValueNode(n));
    }
    double d = std::strtod(std::string(n.text).c_str(), nullptr);
    if (!std::isfinite(d))
      return bad("Float cannot represent non numeric value: " + PrintValueNode(n));
    return Value(d);
  }
  if (name == "String") {
    if (n.kind != ValueNodeKind::kString) {
      return bad("String cannot represent a non string value: " + PrintValueNode(n));
    }
    return Value(n.string);
  }
  if (name == "Boolean") {
    if (n.kind != ValueNodeKind::kBoolean) {
      return bad("Boolean cannot represent a non boolean value: " + PrintValueNode(n));
    }
    return Value(n.boolean);
  }
  if (name == "ID") {
    if (n.kind == ValueNodeKind::kString) return Value(n.string);
    if (n.kind == ValueNodeKind::kInt) return Value(std::string(n.text));
    return bad("ID cannot represent a non-string and non-integer value: " + PrintValueNode(n));
  }
  auto raw = UntypedLiteral(n, variables);
  if (!raw) return bad("Invalid literal.");
  if (!t->parse) return raw;
  Value v = t->parse(*raw);
  if (v.IsError()) return bad(v.AsError());
  return v;
}

}  // namespace

std::optional<Value> CoerceLiteral(const ValueNode& n, const Type* type, const ValueMap* variables,
                                   std::string* error) {
  auto bad = [&](std::string why) -> std::optional<Value> {
    if (error) *error = std::move(why);
    return std::nullopt;
  };
  if (n.kind == ValueNodeKind::kVariable) {
    // Validation mode: variables are checked by VariablesInAllowedPosition.
    if (!variables) return Value();
    for (const auto& [k, v] : *variables) {
      if (k == n.text) {
        if (v.IsNull() && type->kind == TypeKind::kNonNull) {
          return bad("Expected value of type \"" + type->ToString() + "\", found null.");
        }
        return v;
      }
    }
    if (type->kind == TypeKind::kNonNull) {
      return bad("Expected value of type \"" + type->ToString() + "\", found $" +
                 std::string(n.text) + ".");
    }
    return Value();
  }
  if (type->kind == TypeKind::kNonNull) {
    if (n.kind == ValueNodeKind::kNull) {
      return bad("Expected value of type \"" + type->ToString() + "\", found null.");
    }
    return CoerceLiteral(n, type->of_type, variables, error);
  }
  if (n.kind == ValueNodeKind::kNull) return Value();
  switch (type->kind) {
    case TypeKind::kList: {
      ValueList out;
      if (n.kind == ValueNodeKind::kList) {
        out.reserve(n.list.size());
        for (const auto& item : n.list) {
          auto v = CoerceLiteral(item, type->of_type, variables, error);
          if (!v) return std::nullopt;
          out.push_back(std::move(*v));
        }
      } else {
        auto v = CoerceLiteral(n, type->of_type, variables, error);
        if (!v) return std::nullopt;
        out.push_back(std::move(*v));
      }
      return Value(std::move(out));
    }
    case TypeKind::kInputObject: {
      if (n.kind != ValueNodeKind::kObject) {
        return bad("Expected value of type \"" + type->name + "\", found " + PrintValueNode(n) +
                   ".");
      }
      for (size_t i = 0; i < n.fields.size(); ++i) {
        if (!type->FindInputField(n.fields[i].name)) {
          return bad("Field \"" + std::string(n.fields[i].name) + "\" is not defined by type \"" +
                     type->name + "\".");
        }
        for (size_t j = 0; j < i; ++j) {
          if (n.fields[j].name == n.fields[i].name) {
            return bad("There can be only one input field named \"" +
                       std::string(n.fields[i].name) + "\".");
          }
        }
      }
      ValueMap out;
      for (const auto& f : type->input_fields) {
        const ObjectFieldNode* given = nullptr;
        for (const auto& nf : n.fields) {
          if (nf.name == f.name) given = &nf;
        }
        bool missing = !given;
        if (given && given->value.kind == ValueNodeKind::kVariable && variables) {
          missing = true;
          for (const auto& [k, v] : *variables) {
            if (k == given->value.text) missing = false;
          }
        }
        if (missing) {
          if (f.default_value) {
            out.emplace_back(f.name, *f.default_value);
          } else if (f.type->kind == TypeKind::kNonNull) {
            return bad("Field \"" + type->name + "." + f.name + "\" of required type \"" +
                       f.type->ToString() + "\" was not provided.");
          }
          continue;
        }
        auto v = CoerceLiteral(given->value, f.type, variables, error);
        if (!v) return std::nullopt;
        out.emplace_back(f.name, std::move(*v));
      }
      return Value(std::move(out));
    }
    case TypeKind::kEnum: {
      if (n.kind != ValueNodeKind::kEnum) {
        return bad("Enum \"" + type->name +
                   "\" cannot represent non-enum value: " + PrintValueNode(n) + ".");
      }
      if (!type->FindEnumValue(n.text)) {
        return bad("Value \"" + std::string(n.text) + "\" does not exist in \"" + type->name +
                   "\" enum.");
      }
      return Value(EnumValue{std::string(n.text)});
    }
    case TypeKind::kScalar: {
      std::string why;
      auto v = CoerceScalarLiteral(n, type, variables, &why);
      if (!v) {
        return bad("Expected value of type \"" + type->name + "\", found " + PrintValueNode(n) +
                   "; " + why);
      }
      return v;
    }
    default:
      return bad("Type \"" + type->ToString() + "\" is not an input type.");
  }
}

std::optional<Value> CoerceInput(const Value& input, const Type* type, std::string* error) {
  auto bad = [&](std::string why) -> std::optional<Value> {
    if (error) *error = std::move(why);
    return std::nullopt;
  };
  if (type->kind == TypeKind::kNonNull) {
    if (input.IsNull()) {
      return bad("Expected non-nullable type \"" + type->ToString() + "\" not to be null.");
    }
    return CoerceInput(input, type->of_type, error);
  }
  if (input.IsNull()) return Value();
  switch (type->kind) {
    case TypeKind::kList: {
      ValueList out;
      if (input.IsList()) {
        for (const auto& item : input.AsList()) {
          auto v = CoerceInput(item, type->of_type, error);
          if (!v) return std::nullopt;
          out.push_back(std::move(*v));
        }
      } else {
        auto v = CoerceInput(input, type->of_type, error);
        if (!v) return std::nullopt;
        out.push_back(std::move(*v));
      }
      return Value(std::move(out));
    }
    case TypeKind::kInputObject: {
      if (!input.IsMap()) {
        return bad("Expected type \"" + type->name + "\" to be an object.");
      }
      ValueMap out;
      for (const auto& f : type->input_fields) {
        const Value* given = input.Find(f.name);
        if (!given) {
          if (f.default_value) {
            out.emplace_back(f.name, *f.default_value);
          } else if (f.type->kind == TypeKind::kNonNull) {
            return bad("Field \"" + f.name + "\" of required type \"" + f.type->ToString() +
                       "\" was not provided.");
          }
          continue;
        }
        auto v = CoerceInput(*given, f.type, error);
        if (!v) return std::nullopt;
        out.emplace_back(f.name, std::move(*v));
      }
      for (const auto& [k, v] : input.AsMap()) {
        if (!type->FindInputField(k)) {
          return bad("Field \"" + k + "\" is not defined by type \"" + type->name + "\".");
        }
      }
      return Value(std::move(out));
    }
    case TypeKind::kEnum: {
      if (!input.IsString()) {
        return bad("Enum \"" + type->name +
                   "\" cannot represent non-string value: " + Inspect(input) + ".");
      }
      if (!type->FindEnumValue(input.AsString())) {
        return bad("Value \"" + std::string(input.AsString()) + "\" does not exist in \"" +
                   type->name + "\" enum.");
      }
      return Value(EnumValue{std::string(input.AsString())});
    }
    case TypeKind::kScalar: {
      const std::string& name = type->name;
      if (name == "Int") {
        if (input.IsInt()) {
          if (!FitsInt32(input.AsInt())) {
            return bad("Int cannot represent non 32-bit signed integer value: " + Inspect(input));
          }
          return input;
        }
        if (input.IsFloat()) {
          double d = input.AsNumber();
          if (std::floor(d) != d || !std::isfinite(d)) {
            return bad("Int cannot represent non-integer value: " + Inspect(input));
          }
          if (d < -2147483648.0 || d > 2147483647.0) {
            return bad("Int cannot represent non 32-bit signed integer value: " + Inspect(input));
          }
          return Value(static_cast<int64_t>(d));
        }
        return bad("Int cannot represent non-integer value: " + Inspect(input));
      }
      if (name == "Float") {
        if (input.IsInt() || input.IsFloat()) return Value(input.AsNumber());
        return bad("Float cannot represent non numeric value: " + Inspect(input));
      }
      if (name == "String") {
        if (input.IsString()) return Value(std::string(input.AsString()));
        return bad("String cannot represent a non string value: " + Inspect(input));
      }
      if (name == "Boolean") {
        if (input.IsBool()) return input;
        return bad("Boolean cannot represent a non boolean value: " + Inspect(input));
      }
      if (name == "ID") {
        if (input.IsString()) return Value(std::string(input.AsString()));
        if (input.IsInt()) return Value(std::to_string(input.AsInt()));
        if (input.IsFloat() && std::floor(input.AsNumber()) == input.AsNumber() &&
            std::fabs(input.AsNumber()) < 9007199254740992.0) {
          return Value(std::to_string(static_cast<int64_t>(input.AsNumber())));
        }
        return bad("ID cannot represent value: " + Inspect(input));
      }
      if (!type->parse) return input;
      Value v = type->parse(input);
      if (v.IsError()) return bad(v.AsError());
      return v;
    }
    default:
      return bad("Type \"" + type->ToString() + "\" is not an input type.");
  }
}

namespace detail {

bool ParseInt(std::string_view text, int64_t* out) {
  auto r = std::from_chars(text.data(), text.data() + text.size(), *out);
  return r.ec == std::errc() && r.ptr == text.data() + text.size();
}

bool IsBuiltinScalar(std::string_view name) {
  return name == "String" || name == "Int" || name == "Float" || name == "Boolean" || name == "ID";
}

bool SerializeLeaf(Value& value, const Type* type, std::string* error) {
  auto bad = [&](std::string why) {
    *error = std::move(why);
    return false;
  };
  if (type->kind == TypeKind::kEnum) {
    std::string_view name;
    if (value.IsEnum()) {
      name = value.AsEnum();
    } else if (value.IsString()) {
      name = value.AsString();
    } else {
      return bad("Enum \"" + type->name + "\" cannot represent value: " + Inspect(value));
    }
    if (!type->FindEnumValue(name)) {
      return bad("Enum \"" + type->name +
                 "\" cannot represent value: " + Inspect(Value(std::string(name))));
    }
    return true;
  }
  const std::string& name = type->name;
  if (type->serialize) {
    Value out = type->serialize(value);
    if (out.IsError()) return bad(out.AsError());
    value = std::move(out);
    return true;
  }
  if (name == "String") {
    if (value.IsString()) return true;
    if (value.IsBool()) {
      value = Value(std::string(value.AsBool() ? "true" : "false"));
      return true;
    }
    if (value.IsInt()) {
      value = Value(std::to_string(value.AsInt()));
      return true;
    }
    if (value.IsFloat() && std::isfinite(value.AsNumber())) {
      std::string s;
      AppendJsNumber(s, value.AsNumber());
      value = Value(std::move(s));
      return true;
    }
    if (value.IsEnum()) {
      value = Value(value.AsEnum());
      return true;
    }
    return bad("String cannot represent value: " + Inspect(value));
  }
  if (name == "Int") {
    if (value.IsInt()) {
      if (FitsInt32(value.AsInt())) return true;
      return bad("Int cannot represent non 32-bit signed integer value: " + Inspect(value));
    }
    if (value.IsBool()) {
      value = Value(int64_t{value.AsBool() ? 1 : 0});
      return true;
    }
    if (value.IsFloat()) {
      double d = value.AsNumber();
      if (!std::isfinite(d) || std::floor(d) != d) {
        return bad("Int cannot represent non-integer value: " + Inspect(value));
      }
      if (d < -2147483648.0 || d > 2147483647.0) {
        return bad("Int cannot represent non 32-bit signed integer value: " + Inspect(value));
      }
      value = Value(static_cast<int64_t>(d));
      return true;
    }
    return bad("Int cannot represent non-integer value: " + Inspect(value));
  }
  if (name == "Float") {
    if (value.IsFloat()) {
      if (std::isfinite(value.AsNumber())) return true;
      return bad("Float cannot represent non numeric value: " + Inspect(value));
    }
    if (value.IsInt()) {
      value = Value(value.AsNumber());
      return true;
    }
    if (value.IsBool()) {
      value = Value(value.AsBool() ? 1.0 : 0.0);
      return true;
    }
    return bad("Float cannot represent non numeric value: " + Inspect(value));
  }
  if (name == "Boolean") {
    if (value.IsBool()) return true;
    if (value.IsInt() || value.IsFloat()) {
      value = Value(value.AsNumber() != 0);
      return true;
    }
    return bad("Boolean cannot represent a non boolean value: " + Inspect(value));
  }
  if (name == "ID") {
    if (value.IsString()) return true;
    if (value.IsInt()) {
      value = Value(std::to_string(value.AsInt()));
      return true;
    }
    return bad("ID cannot represent value: " + Inspect(value));
  }
  // Custom scalar without a hook: passed through as is, but objects cannot be written.
  if (value.IsOpaque()) return bad("Scalar \"" + name + "\" cannot represent an object.");
  return true;
}

}  // namespace detail

}  // namespace psvc::graphql
