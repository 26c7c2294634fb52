#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "graphql/error.h"

namespace psvc::graphql {

// Names and number texts are views into Document::source, which the Document owns and
// never reallocates; decoded strings own their bytes.

struct ObjectFieldNode;

/// Kind of a literal or variable in a document.
enum class ValueNodeKind : uint8_t {
  kVariable,
  kInt,
  kFloat,
  kString,
  kBoolean,
  kNull,
  kEnum,
  kList,
  kObject
};

/// A literal value (or a variable reference) in a document.
struct ValueNode {
  ValueNodeKind kind = ValueNodeKind::kNull;
  bool boolean = false;
  bool block = false;  // string written as """block"""
  SourceLocation loc;
  std::string_view text;        // variable/enum name, Int/Float digits
  std::string string;           // decoded string value
  std::vector<ValueNode> list;  // list items
  std::vector<ObjectFieldNode> fields;
};

/// `name: value` inside an input object literal.
struct ObjectFieldNode {
  std::string_view name;
  SourceLocation loc;
  ValueNode value;
};

/// `name: value` of a field or directive.
struct ArgumentNode {
  std::string_view name;
  SourceLocation loc;
  ValueNode value;
};

/// `@name(args)`.
struct DirectiveNode {
  std::string_view name;
  SourceLocation loc;
  std::vector<ArgumentNode> arguments;
};

/// A type reference in a variable definition: Name, [T] or T!.
struct TypeNode {
  enum class Kind : uint8_t { kNamed, kList, kNonNull };
  Kind kind = Kind::kNamed;
  std::string_view name;
  SourceLocation loc;
  std::unique_ptr<TypeNode> of;
};

/// Field, fragment spread or inline fragment.
struct SelectionNode {
  enum class Kind : uint8_t { kField, kFragmentSpread, kInlineFragment };
  Kind kind = Kind::kField;
  SourceLocation loc;
  std::string_view alias;           // field: empty when not aliased
  std::string_view name;            // field name, or spread fragment name
  std::string_view type_condition;  // inline fragment: empty when absent
  std::vector<ArgumentNode> arguments;
  std::vector<DirectiveNode> directives;
  std::vector<SelectionNode> selections;  // empty: no selection set

  std::string_view ResponseKey() const { return alias.empty() ? name : alias; }
};

/// `$name: Type = default @directives`.
struct VariableDefinitionNode {
  std::string_view name;
  SourceLocation loc;
  TypeNode type;
  std::optional<ValueNode> default_value;
  std::vector<DirectiveNode> directives;
};

/// The three operation kinds.
enum class OperationType : uint8_t { kQuery, kMutation, kSubscription };

/// A query, mutation or subscription.
struct OperationNode {
  OperationType operation = OperationType::kQuery;
  std::string_view name;  // empty: anonymous
  SourceLocation loc;
  std::vector<VariableDefinitionNode> variables;
  std::vector<DirectiveNode> directives;
  std::vector<SelectionNode> selections;
};

/// `fragment Name on Type { ... }`.
struct FragmentNode {
  std::string_view name;
  SourceLocation loc;
  std::string_view type_condition;
  SourceLocation type_condition_loc;
  std::vector<DirectiveNode> directives;
  std::vector<SelectionNode> selections;
};

/// A parsed executable document; owns its source text.
struct Document {
  std::unique_ptr<const std::string> source;
  std::vector<OperationNode> operations;
  std::vector<FragmentNode> fragments;
  /// Definitions in document order: index into operations (>= 0) or ~index into fragments.
  std::vector<int32_t> order;

  const FragmentNode* FindFragment(std::string_view name) const {
    for (const auto& f : fragments) {
      if (f.name == name) return &f;
    }
    return nullptr;
  }
};

}  // namespace psvc::graphql
