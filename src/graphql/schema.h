#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "graphql/ast.h"
#include "graphql/value.h"

namespace psvc::graphql {

struct Type;
struct FieldDef;

/// Kinds of types, as in introspection's __TypeKind.
enum class TypeKind : uint8_t {
  kScalar,
  kObject,
  kInterface,
  kUnion,
  kEnum,
  kInputObject,
  kList,
  kNonNull
};

/// Look-ahead into a field's sub-selections, as the executor will collect them.
class SelectionLookAhead {
 public:
  /// Fields selected on an object of type `object_type` by `nodes` (sub-selections merged,
  /// fragments expanded, @skip/@include applied), as (response key, field nodes) in order.
  virtual std::vector<std::pair<std::string_view, std::vector<const SelectionNode*>>> Collect(
      std::string_view object_type, std::span<const SelectionNode* const> nodes) const = 0;

 protected:
  ~SelectionLookAhead() = default;
};

/// What a batched resolver receives: every parent object at one level for one field.
struct ResolveParams {
  std::span<const Value* const> parents;
  const ValueMap& args;  // coerced arguments, defaults applied
  const FieldDef& field;
  const Type& parent_type;
  const SelectionNode& node;  // first field node (for look-ahead at sub-selections)
  void* context;              // the request's user context (Request::context)
  std::span<const SelectionNode* const> nodes;  // every field node merged under this key
  const SelectionLookAhead& look_ahead;

  /// The coerced argument `name`, or nullptr when absent.
  const Value* Arg(std::string_view name) const {
    for (const auto& [k, v] : args) {
      if (k == name) return &v;
    }
    return nullptr;
  }
};

/// Returns one result per parent, in order: scalar, object, list, null or Value::Error(...).
using Resolver = std::function<std::vector<Value>(const ResolveParams&)>;
/// Builds a batched resolver from a per-parent function `fn(const T& parent, params) -> Value`.
template <class T, class F>
Resolver PerParent(F fn) {
  return [fn = std::move(fn)](const ResolveParams& params) {
    std::vector<Value> out;
    out.reserve(params.parents.size());
    for (const Value* parent : params.parents) out.push_back(fn(parent->As<T>(), params));
    return out;
  };
}

/// Custom scalar hook: output or input conversion; returns Value::Error(...) on bad input.
using ScalarHook = std::function<Value(const Value&)>;
/// Picks the concrete object type name of a value returned for an interface or union field.
using TypeResolver = std::function<std::string_view(const Value&)>;

/// An argument or input-object field.
struct InputValueDef {
  std::string name;
  std::string description;
  std::string type_ref;  // as written, e.g. "[ID!]!"
  const Type* type = nullptr;
  std::optional<std::string> default_literal;
  std::optional<Value> default_value;  // coerced at schema build
  std::optional<std::string> deprecation_reason;
};

/// A field of an object or interface type.
struct FieldDef {
  std::string name;
  std::string description;
  std::string type_ref;
  const Type* type = nullptr;
  std::vector<InputValueDef> args;
  std::optional<std::string> deprecation_reason;
  Resolver resolver;             // empty: take the property `name` from a map-shaped parent
  uint32_t cost = 1;             // contribution to the cost budget
  uint32_t list_multiplier = 1;  // children's cost is multiplied by this (expected list size)

  const InputValueDef* FindArg(std::string_view arg) const;
};

/// A value of an enum type.
struct EnumValueDef {
  std::string name;
  std::string description;
  std::optional<std::string> deprecation_reason;
};

/// A named type (scalar, object, interface, union, enum, input) or a list/non-null wrapper.
struct Type {
  TypeKind kind = TypeKind::kScalar;
  std::string name;  // empty for wrappers
  std::string description;
  const Type* of_type = nullptr;  // wrappers only
  std::vector<FieldDef> fields;   // object, interface
  std::vector<std::string> interface_names;
  std::vector<const Type*> interfaces;
  std::vector<std::string> member_names;    // union
  std::vector<const Type*> possible_types;  // union members / interface implementations
  std::vector<EnumValueDef> enum_values;
  std::vector<InputValueDef> input_fields;
  std::optional<std::string> specified_by_url;
  ScalarHook serialize;       // custom scalars
  ScalarHook parse;           // custom scalars
  TypeResolver resolve_type;  // interfaces/unions; else the value's type_name or "__typename"

  bool IsWrapper() const { return kind == TypeKind::kList || kind == TypeKind::kNonNull; }
  bool IsLeaf() const { return kind == TypeKind::kScalar || kind == TypeKind::kEnum; }
  bool IsComposite() const {
    return kind == TypeKind::kObject || kind == TypeKind::kInterface || kind == TypeKind::kUnion;
  }
  bool IsAbstract() const { return kind == TypeKind::kInterface || kind == TypeKind::kUnion; }
  bool IsInput() const;
  bool IsOutput() const;
  const Type* Named() const;
  /// "[Int!]!"-style name.
  std::string ToString() const;

  const FieldDef* FindField(std::string_view field) const;
  const InputValueDef* FindInputField(std::string_view field) const;
  const EnumValueDef* FindEnumValue(std::string_view value) const;
  bool IsPossibleType(const Type* object) const;

  std::unordered_map<std::string_view, uint32_t> index;  // field / input field / enum value
};

/// Locations where a directive may appear.
enum class DirectiveLocation : uint8_t {
  kQuery,
  kMutation,
  kSubscription,
  kField,
  kFragmentDefinition,
  kFragmentSpread,
  kInlineFragment,
  kVariableDefinition,
  kSchema,
  kScalar,
  kObject,
  kFieldDefinition,
  kArgumentDefinition,
  kInterface,
  kUnion,
  kEnum,
  kEnumValue,
  kInputObject,
  kInputFieldDefinition
};

/// Spec name of a directive location ("FIELD_DEFINITION").
std::string_view DirectiveLocationName(DirectiveLocation loc);

/// A directive definition (the built-in ones: skip, include, deprecated, specifiedBy, oneOf).
struct DirectiveDef {
  std::string name;
  std::string description;
  std::vector<DirectiveLocation> locations;
  std::vector<InputValueDef> args;
  bool repeatable = false;
};

/// An immutable, validated schema. Build one with SchemaBuilder.
class Schema {
 public:
  const Type* query_type() const { return query_; }
  const Type* mutation_type() const { return mutation_; }
  const Type* subscription_type() const { return subscription_; }
  const std::string& description() const { return description_; }
  /// Named types in the order graphql-js lists them for the same SDL: user types in definition
  /// order, each followed by the built-ins it first references; introspection types last.
  const std::vector<const Type*>& types() const { return ordered_; }
  const std::vector<DirectiveDef>& directives() const { return directives_; }

  const Type* FindType(std::string_view name) const;
  const DirectiveDef* FindDirective(std::string_view name) const;
  /// Field lookup including __typename, and __schema/__type on the query root.
  const FieldDef* FindField(const Type* parent, std::string_view name,
                            bool introspection_enabled) const;
  const FieldDef& typename_field() const { return *typename_field_; }

  /// Wrapper lookups; only for wrappers that occur in the schema (else nullptr).
  const Type* ListOf(const Type* of) const;
  const Type* NonNullOf(const Type* of) const;

  /// SDL as graphql-js printSchema prints it (no built-ins, no introspection types).
  std::string PrintSdl() const;

 private:
  friend class SchemaBuilder;
  std::vector<std::unique_ptr<Type>> owned_;
  std::vector<const Type*> ordered_;
  std::unordered_map<std::string_view, const Type*> by_name_;
  std::vector<DirectiveDef> directives_;
  std::string description_;
  const Type* query_ = nullptr;
  const Type* mutation_ = nullptr;
  const Type* subscription_ = nullptr;
  std::unique_ptr<FieldDef> typename_field_;
  std::unique_ptr<FieldDef> schema_field_;
  std::unique_ptr<FieldDef> type_field_;
  std::unordered_map<const Type*, const Type*> list_of_;
  std::unordered_map<const Type*, const Type*> non_null_of_;
};

/// Resolves document type references (e.g. variable types), creating wrappers the schema lacks.
class TypeArena {
 public:
  explicit TypeArena(const Schema& schema) : schema_(schema) {}
  /// nullptr when the named type is unknown.
  const Type* Resolve(const TypeNode& node);

 private:
  const Schema& schema_;
  std::vector<std::unique_ptr<Type>> owned_;
};

class SchemaBuilder;

/// Adds details to one field (or input field) while a schema is being built.
class FieldBuilder {
 public:
  FieldBuilder& Description(std::string text);
  FieldBuilder& Deprecated(std::string reason = "No longer supported");
  /// Adds an argument; `default_literal` is GraphQL syntax ("10", "\"en\"", "[TV]").
  FieldBuilder& Arg(std::string name, std::string type,
                    std::optional<std::string> default_literal = {}, std::string description = {});
  FieldBuilder& Resolve(Resolver resolver);
  FieldBuilder& Cost(uint32_t cost, uint32_t list_multiplier = 1);

 private:
  friend class TypeBuilder;
  FieldBuilder(Type* type, size_t index) : type_(type), index_(index) {}
  FieldDef& def() const { return type_->fields[index_]; }
  Type* type_;
  size_t index_;
};

/// Adds details to one named type while a schema is being built.
class TypeBuilder {
 public:
  TypeBuilder& Description(std::string text);
  /// Object/interface field; returns a builder for its arguments and resolver.
  FieldBuilder Field(std::string name, std::string type, Resolver resolver = {});
  TypeBuilder& Implements(std::string interface_name);
  TypeBuilder& Member(std::string object_name);  // union member
  TypeBuilder& AddValue(std::string name, std::string description = {},
                        std::optional<std::string> deprecation_reason = {});  // enum value
  TypeBuilder& InputField(std::string name, std::string type,
                          std::optional<std::string> default_literal = {},
                          std::string description = {});
  TypeBuilder& SpecifiedBy(std::string url);
  TypeBuilder& Serialize(ScalarHook hook);
  TypeBuilder& Parse(ScalarHook hook);
  TypeBuilder& ResolveType(TypeResolver resolver);

 private:
  friend class SchemaBuilder;
  explicit TypeBuilder(Type* type) : type_(type) {}
  Type* type_;
};

/// Defines a schema in C++; Build() resolves names and checks the definitions.
class SchemaBuilder {
 public:
  SchemaBuilder();
  SchemaBuilder(const SchemaBuilder&) = delete;
  SchemaBuilder& operator=(const SchemaBuilder&) = delete;

  TypeBuilder Scalar(std::string name, std::string description = {});
  TypeBuilder Object(std::string name, std::string description = {});
  TypeBuilder Interface(std::string name, std::string description = {});
  TypeBuilder Union(std::string name, std::string description = {});
  TypeBuilder Enum(std::string name, std::string description = {});
  TypeBuilder Input(std::string name, std::string description = {});
  /// Re-opens a type defined earlier (e.g. to add fields that refer to later types).
  TypeBuilder Get(std::string_view name);

  SchemaBuilder& QueryType(std::string name);
  SchemaBuilder& MutationType(std::string name);
  SchemaBuilder& SubscriptionType(std::string name);
  SchemaBuilder& Description(std::string text);

  /// The schema, or an error describing the first invalid definition.
  struct Result {
    std::unique_ptr<Schema> schema;
    std::string error;
  };
  Result Build() &&;

 private:
  TypeBuilder Add(TypeKind kind, std::string name, std::string description);
  std::unique_ptr<Schema> schema_;
  std::string query_name_ = "Query";
  std::string mutation_name_;
  std::string subscription_name_;
  bool mutation_set_ = false;
};

/// Coerces a literal to `type` (variables substituted from `variables`); nullopt when invalid.
/// On failure `error` (if given) says why, in graphql-js wording.
std::optional<Value> CoerceLiteral(const ValueNode& node, const Type* type,
                                   const ValueMap* variables, std::string* error = nullptr);

/// Coerces an external input (from JSON variables) to `type`; nullopt when invalid.
std::optional<Value> CoerceInput(const Value& input, const Type* type, std::string* error);

/// Prints a value as a GraphQL literal for `type`, like graphql-js print(astFromValue()).
std::string PrintLiteral(const Value& value, const Type* type);

/// Prints a literal as graphql-js print() does (for "found ..." messages).
std::string PrintValueNode(const ValueNode& node);

/// Prints a string as a GraphQL string literal with graphql-js escapes.
std::string PrintStringLiteral(std::string_view s);

}  // namespace psvc::graphql
