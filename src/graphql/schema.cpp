#include "graphql/schema.h"

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

// ---------------------------------------------------------------- Value equality

bool operator==(const Value& a, const Value& b) {
  if (a.v_.index() != b.v_.index()) {
    if (a.IsString() && b.IsString()) return a.AsString() == b.AsString();
    return false;
  }
  struct Eq {
    const Value::Storage& other;
    bool operator()(std::monostate) const { return true; }
    bool operator()(bool x) const { return x == std::get<bool>(other); }
    bool operator()(int64_t x) const { return x == std::get<int64_t>(other); }
    bool operator()(double x) const { return x == std::get<double>(other); }
    bool operator()(const std::string& x) const { return x == std::get<std::string>(other); }
    bool operator()(const StringRef& x) const { return x.view == std::get<StringRef>(other).view; }
    bool operator()(const EnumValue& x) const { return x.name == std::get<EnumValue>(other).name; }
    bool operator()(const ValueList& x) const { return x == std::get<ValueList>(other); }
    bool operator()(const ValueMap& x) const { return x == std::get<ValueMap>(other); }
    bool operator()(const OpaqueObject& x) const {
      return x.ptr == std::get<OpaqueObject>(other).ptr;
    }
    bool operator()(const FieldError& x) const {
      return x.message == std::get<FieldError>(other).message;
    }
    bool operator()(const ValueRef& x) const {
      return x.target == std::get<ValueRef>(other).target;
    }
  };
  return std::visit(Eq{b.v_}, a.v_);
}

// ---------------------------------------------------------------- Type

bool Type::IsInput() const {
  const Type* n = Named();
  return n->kind == TypeKind::kScalar || n->kind == TypeKind::kEnum ||
         n->kind == TypeKind::kInputObject;
}

bool Type::IsOutput() const {
  const Type* n = Named();
  return n->kind != TypeKind::kInputObject;
}

const Type* Type::Named() const {
  const Type* t = this;
  while (t->of_type) t = t->of_type;
  return t;
}

std::string Type::ToString() const {
  if (kind == TypeKind::kList) return "[" + of_type->ToString() + "]";
  if (kind == TypeKind::kNonNull) return of_type->ToString() + "!";
  return name;
}

const FieldDef* Type::FindField(std::string_view field) const {
  if (kind != TypeKind::kObject && kind != TypeKind::kInterface) return nullptr;
  auto it = index.find(field);
  return it == index.end() ? nullptr : &fields[it->second];
}

const InputValueDef* Type::FindInputField(std::string_view field) const {
  if (kind != TypeKind::kInputObject) return nullptr;
  auto it = index.find(field);
  return it == index.end() ? nullptr : &input_fields[it->second];
}

const EnumValueDef* Type::FindEnumValue(std::string_view value) const {
  if (kind != TypeKind::kEnum) return nullptr;
  auto it = index.find(value);
  return it == index.end() ? nullptr : &enum_values[it->second];
}

bool Type::IsPossibleType(const Type* object) const {
  if (this == object) return true;
  for (const Type* t : possible_types) {
    if (t == object) return true;
  }
  return false;
}

const InputValueDef* FieldDef::FindArg(std::string_view arg) const {
  for (const auto& a : args) {
    if (a.name == arg) return &a;
  }
  return nullptr;
}

std::string_view DirectiveLocationName(DirectiveLocation loc) {
  static constexpr std::string_view kNames[] = {"QUERY",
                                                "MUTATION",
                                                "SUBSCRIPTION",
                                                "FIELD",
                                                "FRAGMENT_DEFINITION",
                                                "FRAGMENT_SPREAD",
                                                "INLINE_FRAGMENT",
                                                "VARIABLE_DEFINITION",
                                                "SCHEMA",
                                                "SCALAR",
                                                "OBJECT",
                                                "FIELD_DEFINITION",
                                                "ARGUMENT_DEFINITION",
                                                "INTERFACE",
                                                "UNION",
                                                "ENUM",
                                                "ENUM_VALUE",
                                                "INPUT_OBJECT",
                                                "INPUT_FIELD_DEFINITION"};
  return kNames[static_cast<size_t>(loc)];
}

// ---------------------------------------------------------------- Schema

const Type* Schema::FindType(std::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

const DirectiveDef* Schema::FindDirective(std::string_view name) const {
  for (const auto& d : directives_) {
    if (d.name == name) return &d;
  }
  return nullptr;
}

const FieldDef* Schema::FindField(const Type* parent, std::string_view name,
                                  bool introspection_enabled) const {
  if (name.size() > 2 && name[0] == '_' && name[1] == '_') {
    if (name == "__typename") return parent->IsComposite() ? typename_field_.get() : nullptr;
    if (introspection_enabled && parent == query_) {
      if (name == "__schema") return schema_field_.get();
      if (name == "__type") return type_field_.get();
    }
  }
  return parent->FindField(name);
}

const Type* Schema::ListOf(const Type* of) const {
  auto it = list_of_.find(of);
  return it == list_of_.end() ? nullptr : it->second;
}

const Type* Schema::NonNullOf(const Type* of) const {
  auto it = non_null_of_.find(of);
  return it == non_null_of_.end() ? nullptr : it->second;
}

const Type* TypeArena::Resolve(const TypeNode& node) {
  if (node.kind == TypeNode::Kind::kNamed) return schema_.FindType(node.name);
  const Type* of = Resolve(*node.of);
  if (!of) return nullptr;
  bool list = node.kind == TypeNode::Kind::kList;
  if (const Type* t = list ? schema_.ListOf(of) : schema_.NonNullOf(of)) return t;
  for (const auto& t : owned_) {
    if (t->of_type == of && (t->kind == TypeKind::kList) == list) return t.get();
  }
  auto t = std::make_unique<Type>();
  t->kind = list ? TypeKind::kList : TypeKind::kNonNull;
  t->of_type = of;
  owned_.push_back(std::move(t));
  return owned_.back().get();
}

// ---------------------------------------------------------------- builders

FieldBuilder& FieldBuilder::Description(std::string text) {
  def().description = std::move(text);
  return *this;
}
FieldBuilder& FieldBuilder::Deprecated(std::string reason) {
  def().deprecation_reason = std::move(reason);
  return *this;
}
FieldBuilder& FieldBuilder::Arg(std::string name, std::string type,
                                std::optional<std::string> default_literal,
                                std::string description) {
  InputValueDef a;
  a.name = std::move(name);
  a.type_ref = std::move(type);
  a.default_literal = std::move(default_literal);
  a.description = std::move(description);
  def().args.push_back(std::move(a));
  return *this;
}
FieldBuilder& FieldBuilder::Resolve(Resolver resolver) {
  def().resolver = std::move(resolver);
  return *this;
}
FieldBuilder& FieldBuilder::Cost(uint32_t cost, uint32_t list_multiplier) {
  def().cost = cost;
  def().list_multiplier = list_multiplier;
  return *this;
}

TypeBuilder& TypeBuilder::Description(std::string text) {
  type_->description = std::move(text);
  return *this;
}
FieldBuilder TypeBuilder::Field(std::string name, std::string type, Resolver resolver) {
  FieldDef f;
  f.name = std::move(name);
  f.type_ref = std::move(type);
  f.resolver = std::move(resolver);
  type_->fields.push_back(std::move(f));
  return FieldBuilder(type_, type_->fields.size() - 1);
}
TypeBuilder& TypeBuilder::Implements(std::string interface_name) {
  type_->interface_names.push_back(std::move(interface_name));
  return *this;
}
TypeBuilder& TypeBuilder::Member(std::string object_name) {
  type_->member_names.push_back(std::move(object_name));
  return *this;
}
TypeBuilder& TypeBuilder::AddValue(std::string name, std::string description,
                                   std::optional<std::string> deprecation_reason) {
  type_->enum_values.push_back(
      {std::move(name), std::move(description), std::move(deprecation_reason)});
  return *this;
}
TypeBuilder& TypeBuilder::InputField(std::string name, std::string type,
                                     std::optional<std::string> default_literal,
                                     std::string description) {
  InputValueDef f;
  f.name = std::move(name);
  f.type_ref = std::move(type);
  f.default_literal = std::move(default_literal);
  f.description = std::move(description);
  type_->input_fields.push_back(std::move(f));
  return *this;
}
TypeBuilder& TypeBuilder::SpecifiedBy(std::string url) {
  type_->specified_by_url = std::move(url);
  return *this;
}
TypeBuilder& TypeBuilder::Serialize(ScalarHook hook) {
  type_->serialize = std::move(hook);
  return *this;
}
TypeBuilder& TypeBuilder::Parse(ScalarHook hook) {
  type_->parse = std::move(hook);
  return *this;
}
TypeBuilder& TypeBuilder::ResolveType(TypeResolver resolver) {
  type_->resolve_type = std::move(resolver);
  return *this;
}

SchemaBuilder::SchemaBuilder() : schema_(std::make_unique<Schema>()) {
  Scalar("String",
         "The `String` scalar type represents textual data, represented as UTF-8 character "
         "sequences. The String type is most often used by GraphQL to represent free-form "
         "human-readable text.");
  Scalar("Int",
         "The `Int` scalar type represents non-fractional signed whole numeric values. Int can "
         "represent values between -(2^31) and 2^31 - 1.");
  Scalar("Float",
         "The `Float` scalar type represents signed double-precision fractional values as "
         "specified by [IEEE 754](https://en.wikipedia.org/wiki/IEEE_floating_point).");
  Scalar("Boolean", "The `Boolean` scalar type represents `true` or `false`.");
  Scalar("ID",
         "The `ID` scalar type represents a unique identifier, often used to refetch an object "
         "or as key for a cache. The ID type appears in a JSON response as a String; however, it "
         "is not intended to be human-readable. When expected as an input type, any string "
         "(such as `\"4\"`) or integer (such as `4`) input value will be accepted as an ID.");
}

TypeBuilder SchemaBuilder::Add(TypeKind kind, std::string name, std::string description) {
  auto t = std::make_unique<Type>();
  t->kind = kind;
  t->name = std::move(name);
  t->description = std::move(description);
  schema_->owned_.push_back(std::move(t));
  return TypeBuilder(schema_->owned_.back().get());
}

TypeBuilder SchemaBuilder::Scalar(std::string n, std::string d) {
  return Add(TypeKind::kScalar, std::move(n), std::move(d));
}
TypeBuilder SchemaBuilder::Object(std::string n, std::string d) {
  return Add(TypeKind::kObject, std::move(n), std::move(d));
}
TypeBuilder SchemaBuilder::Interface(std::string n, std::string d) {
  return Add(TypeKind::kInterface, std::move(n), std::move(d));
}
TypeBuilder SchemaBuilder::Union(std::string n, std::string d) {
  return Add(TypeKind::kUnion, std::move(n), std::move(d));
}
TypeBuilder SchemaBuilder::Enum(std::string n, std::string d) {
  return Add(TypeKind::kEnum, std::move(n), std::move(d));
}
TypeBuilder SchemaBuilder::Input(std::string n, std::string d) {
  return Add(TypeKind::kInputObject, std::move(n), std::move(d));
}
TypeBuilder SchemaBuilder::Get(std::string_view name) {
  for (auto& t : schema_->owned_) {
    if (t->name == name) return TypeBuilder(t.get());
  }
  throw std::logic_error("SchemaBuilder::Get: no type " + std::string(name));
}
SchemaBuilder& SchemaBuilder::QueryType(std::string name) {
  query_name_ = std::move(name);
  return *this;
}
SchemaBuilder& SchemaBuilder::MutationType(std::string name) {
  mutation_name_ = std::move(name);
  return *this;
}
SchemaBuilder& SchemaBuilder::SubscriptionType(std::string name) {
  subscription_name_ = std::move(name);
  return *this;
}
SchemaBuilder& SchemaBuilder::Description(std::string text) {
  schema_->description_ = std::move(text);
  return *this;
}

namespace {

bool IsValidName(std::string_view n) {
  if (n.empty()) return false;
  auto start = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; };
  if (!start(n[0])) return false;
  for (char c : n) {
    if (!start(c) && !(c >= '0' && c <= '9')) return false;
  }
  return true;
}

// Interns wrapper types so each [T] / T! exists once per schema.
class Interner {
 public:
  Interner(std::vector<std::unique_ptr<Type>>& owned,
           std::unordered_map<std::string_view, const Type*>& by_name,
           std::unordered_map<const Type*, const Type*>& lists,
           std::unordered_map<const Type*, const Type*>& non_nulls)
      : owned_(owned), by_name_(by_name), lists_(lists), non_nulls_(non_nulls) {}

  const Type* Resolve(const TypeNode& node) {
    if (node.kind == TypeNode::Kind::kNamed) {
      auto it = by_name_.find(node.name);
      return it == by_name_.end() ? nullptr : it->second;
    }
    const Type* of = Resolve(*node.of);
    if (!of) return nullptr;
    bool list = node.kind == TypeNode::Kind::kList;
    auto& map = list ? lists_ : non_nulls_;
    auto it = map.find(of);
    if (it != map.end()) return it->second;
    auto t = std::make_unique<Type>();
    t->kind = list ? TypeKind::kList : TypeKind::kNonNull;
    t->of_type = of;
    map[of] = t.get();
    owned_.push_back(std::move(t));
    return owned_.back().get();
  }

 private:
  std::vector<std::unique_ptr<Type>>& owned_;
  std::unordered_map<std::string_view, const Type*>& by_name_;
  std::unordered_map<const Type*, const Type*>& lists_;
  std::unordered_map<const Type*, const Type*>& non_nulls_;
};

// Spec §3.13: the built-in directives.
std::vector<DirectiveDef> BuiltinDirectives() {
  std::vector<DirectiveDef> out;
  auto arg = [](std::string name, std::string type, std::string description,
                std::optional<std::string> def = {}) {
    InputValueDef a;
    a.name = std::move(name);
    a.type_ref = std::move(type);
    a.description = std::move(description);
    a.default_literal = std::move(def);
    return a;
  };
  using L = DirectiveLocation;
  out.push_back({"include",
                 "Directs the executor to include this field or fragment only when the `if` "
                 "argument is true.",
                 {L::kField, L::kFragmentSpread, L::kInlineFragment},
                 {arg("if", "Boolean!", "Included when true.")},
                 false});
  out.push_back({"skip",
                 "Directs the executor to skip this field or fragment when the `if` argument is "
                 "true.",
                 {L::kField, L::kFragmentSpread, L::kInlineFragment},
                 {arg("if", "Boolean!", "Skipped when true.")},
                 false});
  out.push_back(
      {"deprecated",
       "Marks an element of a GraphQL schema as no longer supported.",
       {L::kFieldDefinition, L::kArgumentDefinition, L::kInputFieldDefinition, L::kEnumValue},
       {arg("reason", "String",
            "Explains why this element was deprecated, usually also including a "
            "suggestion for how to access supported similar data. Formatted using the "
            "Markdown syntax, as specified by [CommonMark](https://commonmark.org/).",
            "\"No longer supported\"")},
       false});
  out.push_back({"specifiedBy",
                 "Exposes a URL that specifies the behavior of this scalar.",
                 {L::kScalar},
                 {arg("url", "String!", "The URL that specifies the behavior of this scalar.")},
                 false});
  out.push_back({"oneOf",
                 "Indicates exactly one field must be supplied and this field must not be "
                 "`null`.",
                 {L::kInputObject},
                 {},
                 false});
  return out;
}

}  // namespace

SchemaBuilder::Result SchemaBuilder::Build() && {
  Result result;
  Schema& s = *schema_;
  auto fail = [&](std::string message) {
    result.error = std::move(message);
    return std::move(result);
  };
  detail::DefineIntrospectionTypes(*this, schema_.get());
  s.directives_ = BuiltinDirectives();

  for (auto& t : s.owned_) {
    if (!IsValidName(t->name)) return fail("Invalid type name \"" + t->name + "\".");
    if (!s.by_name_.emplace(t->name, t.get()).second) {
      return fail("Type \"" + t->name + "\" is defined more than once.");
    }
    s.ordered_.push_back(t.get());
  }
  Interner interner(s.owned_, s.by_name_, s.list_of_, s.non_null_of_);
  auto resolve = [&](const std::string& ref, const Type** out, bool input, const std::string& where,
                     std::string* error) {
    Error perr;
    auto parsed = ParseTypeReference(ref, &perr);
    if (!parsed) {
      *error = where + ": cannot parse type \"" + ref + "\": " + perr.message;
      return false;
    }
    const Type* t = interner.Resolve(parsed->node);
    if (!t) {
      *error = where + ": unknown type \"" + ref + "\".";
      return false;
    }
    if (input ? !t->IsInput() : !t->IsOutput()) {
      *error =
          where + ": type \"" + ref + "\" is not an " + (input ? "input" : "output") + " type.";
      return false;
    }
    *out = t;
    return true;
  };
  auto resolve_args = [&](std::vector<InputValueDef>& args, const std::string& where,
                          std::string* error) {
    for (auto& a : args) {
      if (!IsValidName(a.name)) {
        *error = where + ": invalid argument name \"" + a.name + "\".";
        return false;
      }
      if (!resolve(a.type_ref, &a.type, true, where + "(" + a.name + ":)", error)) return false;
    }
    return true;
  };
  std::string error;
  size_t named_count = s.ordered_.size();
  for (size_t i = 0; i < named_count; ++i) {
    Type* t = s.owned_[i].get();
    switch (t->kind) {
      case TypeKind::kObject:
      case TypeKind::kInterface: {
        if (t->fields.empty())
          return fail("Type \"" + t->name + "\" must define one or more fields.");
        for (auto& f : t->fields) {
          std::string where = t->name + "." + f.name;
          if (!IsValidName(f.name)) return fail("Invalid field name \"" + where + "\".");
          if (!resolve(f.type_ref, &f.type, false, where, &error)) return fail(error);
          if (!resolve_args(f.args, where, &error)) return fail(error);
        }
        for (const auto& iname : t->interface_names) {
          const Type* it = s.FindType(iname);
          if (!it || it->kind != TypeKind::kInterface) {
            return fail("Type \"" + t->name + "\" implements unknown interface \"" + iname + "\".");
          }
          t->interfaces.push_back(it);
        }
        break;
      }
      case TypeKind::kUnion:
        if (t->member_names.empty()) return fail("Union \"" + t->name + "\" has no members.");
        for (const auto& m : t->member_names) {
          const Type* mt = s.FindType(m);
          if (!mt || mt->kind != TypeKind::kObject) {
            return fail("Union \"" + t->name + "\" member \"" + m + "\" is not an object type.");
          }
          t->possible_types.push_back(mt);
        }
        break;
      case TypeKind::kEnum:
        if (t->enum_values.empty()) return fail("Enum \"" + t->name + "\" has no values.");
        for (const auto& v : t->enum_values) {
          if (!IsValidName(v.name) || v.name == "true" || v.name == "false" || v.name == "null") {
            return fail("Enum \"" + t->name + "\" has invalid value \"" + v.name + "\".");
          }
        }
        break;
      case TypeKind::kInputObject:
        if (t->input_fields.empty()) {
          return fail("Input \"" + t->name + "\" must define one or more fields.");
        }
        if (!resolve_args(t->input_fields, t->name, &error)) return fail(error);
        break;
      default:
        break;
    }
  }
  for (auto& d : s.directives_) {
    if (!resolve_args(d.args, "@" + d.name, &error)) return fail(error);
  }
  // Indexes are built once names no longer move.
  for (size_t i = 0; i < named_count; ++i) {
    Type* t = s.owned_[i].get();
    auto add = [&](std::string_view key, size_t idx) {
      if (!t->index.emplace(key, static_cast<uint32_t>(idx)).second) {
        error = "Type \"" + t->name + "\" defines \"" + std::string(key) + "\" twice.";
      }
    };
    for (size_t k = 0; k < t->fields.size(); ++k) add(t->fields[k].name, k);
    for (size_t k = 0; k < t->enum_values.size(); ++k) add(t->enum_values[k].name, k);
    for (size_t k = 0; k < t->input_fields.size(); ++k) add(t->input_fields[k].name, k);
    if (!error.empty()) return fail(error);
  }
  // Interface implementations, in definition order; check each implementation's fields.
  for (size_t i = 0; i < named_count; ++i) {
    Type* t = s.owned_[i].get();
    for (const Type* iface : t->interfaces) {
      if (t->kind == TypeKind::kObject) const_cast<Type*>(iface)->possible_types.push_back(t);
      for (const auto& f : iface->fields) {
        const FieldDef* impl = t->FindField(f.name);
        if (!impl) {
          return fail("Interface field " + iface->name + "." + f.name + " expected but " + t->name +
                      " does not provide it.");
        }
        for (const auto& a : f.args) {
          const InputValueDef* ia = impl->FindArg(a.name);
          if (!ia || ia->type != a.type) {
            return fail("Interface field argument " + iface->name + "." + f.name + "(" + a.name +
                        ":) expected but " + t->name + "." + f.name + " does not provide it.");
          }
        }
      }
    }
  }
  // Objects implementing an interface through another interface are possible types too.
  for (size_t i = 0; i < named_count; ++i) {
    Type* t = s.owned_[i].get();
    if (t->kind != TypeKind::kInterface) continue;
    for (size_t k = 0; k < named_count; ++k) {
      Type* o = s.owned_[k].get();
      if (o->kind == TypeKind::kObject && !t->IsPossibleType(o)) {
        for (const Type* oi : o->interfaces) {
          for (const Type* oii : oi->interfaces) {
            if (oii == t && !t->IsPossibleType(o)) t->possible_types.push_back(o);
          }
        }
      }
    }
  }
  // Default values are coerced once, here.
  auto coerce_defaults = [&](std::vector<InputValueDef>& defs, const std::string& where) {
    for (auto& a : defs) {
      if (!a.default_literal) continue;
      Error perr;
      auto lit = ParseConstValue(*a.default_literal, &perr);
      std::string why;
      if (!lit) {
        error = where + "." + a.name + ": bad default value: " + perr.message;
        return false;
      }
      auto v = CoerceLiteral(lit->node, a.type, nullptr, &why);
      if (!v) {
        error = where + "." + a.name + ": bad default value: " + why;
        return false;
      }
      a.default_value = std::move(*v);
    }
    return true;
  };
  for (size_t i = 0; i < named_count; ++i) {
    Type* t = s.owned_[i].get();
    for (auto& f : t->fields) {
      if (!coerce_defaults(f.args, t->name + "." + f.name)) return fail(error);
    }
    if (!coerce_defaults(t->input_fields, t->name)) return fail(error);
  }
  for (auto& d : s.directives_) {
    if (!coerce_defaults(d.args, "@" + d.name)) return fail(error);
  }

  auto root = [&](const std::string& name, const Type** out) {
    if (name.empty()) return true;
    const Type* t = s.FindType(name);
    if (!t || t->kind != TypeKind::kObject) {
      error = "Root type \"" + name + "\" is not a defined object type.";
      return false;
    }
    *out = t;
    return true;
  };
  if (!root(query_name_, &s.query_) || !root(mutation_name_, &s.mutation_) ||
      !root(subscription_name_, &s.subscription_)) {
    return fail(error);
  }
  if (!s.query_) return fail("A schema needs a query type.");

  s.typename_field_ = std::make_unique<FieldDef>();
  s.typename_field_->name = "__typename";
  s.typename_field_->description = "The name of the current Object type at runtime.";
  s.typename_field_->type_ref = "String!";
  s.schema_field_ = std::make_unique<FieldDef>(detail::MakeSchemaMetaField(&s));
  s.type_field_ = std::make_unique<FieldDef>(detail::MakeTypeMetaField(&s));
  for (FieldDef* f : {s.typename_field_.get(), s.schema_field_.get(), s.type_field_.get()}) {
    if (!resolve(f->type_ref, &f->type, false, f->name, &error)) return fail(error);
    if (!resolve_args(f->args, f->name, &error)) return fail(error);
  }
  // Type order as graphql-js's GraphQLSchema builds it for the same SDL (user types in
  // definition order, each followed by the built-in scalars it first references, then the
  // introspection types), so introspection output is identical.
  {
    std::vector<const Type*> order;
    std::unordered_map<const Type*, bool> in;
    std::function<void(const Type*)> collect = [&](const Type* t) {
      t = t->Named();
      if (in[t]) return;
      in[t] = true;
      order.push_back(t);
      for (const Type* m :
           t->kind == TypeKind::kUnion ? t->possible_types : std::vector<const Type*>{}) {
        collect(m);
      }
      for (const Type* i : t->interfaces) collect(i);
      for (const auto& f : t->fields) {
        collect(f.type);
        for (const auto& a : f.args) collect(a.type);
      }
      for (const auto& f : t->input_fields) collect(f.type);
    };
    std::vector<const Type*> user;
    for (const Type* t : s.ordered_) {
      if (!t->name.starts_with("__") && !detail::IsBuiltinScalar(t->name)) {
        user.push_back(t);
        in[t] = true;
      }
    }
    for (const Type* t : user) {
      in[t] = false;
      collect(t);
    }
    for (const auto& d : s.directives_) {
      for (const auto& a : d.args) collect(a.type);
    }
    collect(s.FindType("__Schema"));
    s.ordered_ = std::move(order);
  }
  result.schema = std::move(schema_);
  return result;
}

}  // namespace psvc::graphql
