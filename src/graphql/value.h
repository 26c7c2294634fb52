#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <typeinfo>
#include <utility>
#include <variant>
#include <vector>

namespace psvc::graphql {

class Value;

/// An input object or a map-shaped result: fields in insertion order.
using ValueMap = std::vector<std::pair<std::string, Value>>;
/// A list of values.
using ValueList = std::vector<Value>;

/// A resolver's object result that the engine does not look into: a pointer plus its type.
struct OpaqueObject {
  std::shared_ptr<const void> ptr;
  const std::type_info* type = nullptr;
  std::string_view type_name;  // concrete GraphQL type for interfaces/unions; may be empty
};

/// A resolver's error for one parent: becomes a GraphQL error at that path.
struct FieldError {
  std::string message;
};

/// Borrowed string: must outlive the request (e.g. it points into a parent object).
struct StringRef {
  std::string_view view;
};

/// Reference to a value that outlives the request (e.g. a field of a parent map): no copy.
struct ValueRef {
  const Value* target;
};

/// Enum value by name (input coercion produces these; resolvers may return strings).
struct EnumValue {
  std::string name;
};

/// The values that flow through the engine: coerced arguments and variables, resolver results.
class Value {
 public:
  using Storage = std::variant<std::monostate, bool, int64_t, double, std::string, StringRef,
                               EnumValue, ValueList, ValueMap, OpaqueObject, FieldError, ValueRef>;

  Value() = default;
  Value(std::nullptr_t) {}
  Value(bool b) : v_(b) {}
  Value(int32_t i) : v_(int64_t{i}) {}
  Value(int64_t i) : v_(i) {}
  Value(double d) : v_(d) {}
  Value(std::string s) : v_(std::move(s)) {}
  Value(const char* s) : v_(std::string(s)) {}
  Value(StringRef s) : v_(s) {}
  Value(EnumValue e) : v_(std::move(e)) {}
  Value(ValueList l) : v_(std::move(l)) {}
  Value(ValueMap m) : v_(std::move(m)) {}
  Value(OpaqueObject o) : v_(std::move(o)) {}
  Value(FieldError e) : v_(std::move(e)) {}
  Value(ValueRef r) : v_(r) {}

  /// An object result owning `ptr`; `type_name` names its GraphQL type when the field is abstract.
  template <class T>
  static Value Object(std::shared_ptr<const T> ptr, std::string_view type_name = {}) {
    return Value(OpaqueObject{std::move(ptr), &typeid(T), type_name});
  }
  /// An object result that borrows `ptr` (it must outlive the request); no allocation.
  template <class T>
  static Value Borrowed(const T* ptr, std::string_view type_name = {}) {
    // Aliasing constructor with an empty owner: a non-owning shared_ptr.
    return Value(OpaqueObject{std::shared_ptr<const void>(std::shared_ptr<const void>(), ptr),
                              &typeid(T), type_name});
  }
  static Value Error(std::string message) { return Value(FieldError{std::move(message)}); }
  /// A reference to `target`, which must outlive the request.
  static Value Ref(const Value& target) { return Value(ValueRef{&target}); }
  /// Follows references.
  const Value& Deref() const {
    const Value* v = this;
    while (auto* r = std::get_if<ValueRef>(&v->v_)) v = r->target;
    return *v;
  }

  bool IsNull() const { return std::holds_alternative<std::monostate>(v_); }
  bool IsBool() const { return std::holds_alternative<bool>(v_); }
  bool IsInt() const { return std::holds_alternative<int64_t>(v_); }
  bool IsFloat() const { return std::holds_alternative<double>(v_); }
  bool IsString() const {
    return std::holds_alternative<std::string>(v_) || std::holds_alternative<StringRef>(v_);
  }
  bool IsEnum() const { return std::holds_alternative<EnumValue>(v_); }
  bool IsList() const { return std::holds_alternative<ValueList>(v_); }
  bool IsMap() const { return std::holds_alternative<ValueMap>(v_); }
  bool IsOpaque() const { return std::holds_alternative<OpaqueObject>(v_); }
  bool IsError() const { return std::holds_alternative<FieldError>(v_); }
  bool IsRef() const { return std::holds_alternative<ValueRef>(v_); }

  bool AsBool() const { return std::get<bool>(v_); }
  int64_t AsInt() const { return std::get<int64_t>(v_); }
  /// Float or Int as a double.
  double AsNumber() const { return IsInt() ? static_cast<double>(AsInt()) : std::get<double>(v_); }
  std::string_view AsString() const {
    if (auto* s = std::get_if<std::string>(&v_)) return *s;
    return std::get<StringRef>(v_).view;
  }
  const std::string& AsEnum() const { return std::get<EnumValue>(v_).name; }
  const ValueList& AsList() const { return std::get<ValueList>(v_); }
  ValueList& AsList() { return std::get<ValueList>(v_); }
  const ValueMap& AsMap() const { return std::get<ValueMap>(v_); }
  ValueMap& AsMap() { return std::get<ValueMap>(v_); }
  const OpaqueObject& AsOpaque() const { return std::get<OpaqueObject>(v_); }
  const std::string& AsError() const { return std::get<FieldError>(v_).message; }

  /// The object behind an opaque value; throws std::logic_error on a type mismatch (a bug).
  template <class T>
  const T& As() const {
    const OpaqueObject& o = AsOpaque();
    if (*o.type != typeid(T)) throw std::logic_error("graphql::Value::As: wrong object type");
    return *static_cast<const T*>(o.ptr.get());
  }

  /// Field of a map value, or nullptr.
  const Value* Find(std::string_view key) const {
    if (!IsMap()) return nullptr;
    for (const auto& [k, v] : AsMap()) {
      if (k == key) return &v;
    }
    return nullptr;
  }

  const Storage& storage() const { return v_; }

  friend bool operator==(const Value& a, const Value& b);

 private:
  Storage v_;
};

}  // namespace psvc::graphql
