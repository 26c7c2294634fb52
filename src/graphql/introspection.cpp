// Introspection (spec §4): the __ types are ordinary object types whose resolvers read the
// schema through borrowed pointers, so the executor needs no special cases beyond __typename.
#include "graphql/detail/introspection.h"

namespace psvc::graphql::detail {
namespace {

Value OptString(const std::string& s) { return s.empty() ? Value() : Value(StringRef{s}); }

Value OptReason(const std::optional<std::string>& r) { return r ? Value(StringRef{*r}) : Value(); }

bool IncludeDeprecated(const ResolveParams& p) {
  const Value* v = p.Arg("includeDeprecated");
  return v && v->IsBool() && v->AsBool();
}

Value TypeHandle(const Type* t) { return t ? Value::Borrowed(t) : Value(); }

std::string_view KindName(TypeKind k) {
  switch (k) {
    case TypeKind::kScalar:
      return "SCALAR";
    case TypeKind::kObject:
      return "OBJECT";
    case TypeKind::kInterface:
      return "INTERFACE";
    case TypeKind::kUnion:
      return "UNION";
    case TypeKind::kEnum:
      return "ENUM";
    case TypeKind::kInputObject:
      return "INPUT_OBJECT";
    case TypeKind::kList:
      return "LIST";
    case TypeKind::kNonNull:
      return "NON_NULL";
  }
  return "";
}

Value InputValues(const std::vector<InputValueDef>& defs, bool include_deprecated) {
  ValueList out;
  for (const auto& d : defs) {
    if (d.deprecation_reason && !include_deprecated) continue;
    out.push_back(Value::Borrowed(&d));
  }
  return Value(std::move(out));
}

}  // namespace

void DefineIntrospectionTypes(SchemaBuilder& b, const Schema* schema) {
  b.Object("__Schema",
           "A GraphQL Schema defines the capabilities of a GraphQL server. It exposes all "
           "available types and directives on the server, as well as the entry points for "
           "query, mutation, and subscription operations.");
  auto s = b.Get("__Schema");
  s.Field("description", "String", PerParent<Schema>([](const Schema& x, const ResolveParams&) {
            return OptString(x.description());
          }));
  s.Field("types", "[__Type!]!", PerParent<Schema>([](const Schema& x, const ResolveParams&) {
            ValueList out;
            for (const Type* t : x.types()) out.push_back(Value::Borrowed(t));
            return Value(std::move(out));
          }))
      .Description("A list of all types supported by this server.");
  s.Field("queryType", "__Type!", PerParent<Schema>([](const Schema& x, const ResolveParams&) {
            return TypeHandle(x.query_type());
          }))
      .Description("The type that query operations will be rooted at.");
  s.Field("mutationType", "__Type", PerParent<Schema>([](const Schema& x, const ResolveParams&) {
            return TypeHandle(x.mutation_type());
          }))
      .Description(
          "If this server supports mutation, the type that mutation operations will be rooted "
          "at.");
  s.Field("subscriptionType", "__Type",
          PerParent<Schema>([](const Schema& x, const ResolveParams&) {
            return TypeHandle(x.subscription_type());
          }))
      .Description(
          "If this server support subscription, the type that subscription operations will be "
          "rooted at.");
  s.Field("directives", "[__Directive!]!",
          PerParent<Schema>([](const Schema& x, const ResolveParams&) {
            ValueList out;
            for (const auto& d : x.directives()) out.push_back(Value::Borrowed(&d));
            return Value(std::move(out));
          }))
      .Description("A list of all directives supported by this server.");

  auto t = b.Object("__Type",
                    "The fundamental unit of any GraphQL Schema is the type. There are many "
                    "kinds of types in GraphQL as represented by the `__TypeKind` enum.\n\n"
                    "Depending on the kind of a type, certain fields describe information about "
                    "that type. Scalar types provide no information beyond a name, description "
                    "and optional `specifiedByURL`, while Enum types provide their values. Object "
                    "and Interface types provide the fields they describe. Abstract types, Union "
                    "and Interface, provide the Object types possible at runtime. List and "
                    "NonNull types compose other types.");
  t.Field("kind", "__TypeKind!", PerParent<Type>([](const Type& x, const ResolveParams&) {
            return Value(StringRef{KindName(x.kind)});
          }));
  t.Field("name", "String",
          PerParent<Type>([](const Type& x, const ResolveParams&) { return OptString(x.name); }));
  t.Field("description", "String", PerParent<Type>([](const Type& x, const ResolveParams&) {
            return OptString(x.description);
          }));
  t.Field("specifiedByURL", "String", PerParent<Type>([](const Type& x, const ResolveParams&) {
            return x.specified_by_url ? Value(StringRef{*x.specified_by_url}) : Value();
          }));
  t.Field("fields", "[__Field!]", PerParent<Type>([](const Type& x, const ResolveParams& p) {
            if (x.kind != TypeKind::kObject && x.kind != TypeKind::kInterface) return Value();
            bool all = IncludeDeprecated(p);
            ValueList out;
            for (const auto& f : x.fields) {
              if (f.deprecation_reason && !all) continue;
              out.push_back(Value::Borrowed(&f));
            }
            return Value(std::move(out));
          }))
      .Arg("includeDeprecated", "Boolean", "false");
  t.Field("interfaces", "[__Type!]", PerParent<Type>([](const Type& x, const ResolveParams&) {
            if (x.kind != TypeKind::kObject && x.kind != TypeKind::kInterface) return Value();
            ValueList out;
            for (const Type* i : x.interfaces) out.push_back(Value::Borrowed(i));
            return Value(std::move(out));
          }));
  t.Field("possibleTypes", "[__Type!]", PerParent<Type>([](const Type& x, const ResolveParams&) {
            if (!x.IsAbstract()) return Value();
            ValueList out;
            for (const Type* i : x.possible_types) out.push_back(Value::Borrowed(i));
            return Value(std::move(out));
          }));
  t.Field("enumValues", "[__EnumValue!]",
          PerParent<Type>([](const Type& x, const ResolveParams& p) {
            if (x.kind != TypeKind::kEnum) return Value();
            bool all = IncludeDeprecated(p);
            ValueList out;
            for (const auto& v : x.enum_values) {
              if (v.deprecation_reason && !all) continue;
              out.push_back(Value::Borrowed(&v));
            }
            return Value(std::move(out));
          }))
      .Arg("includeDeprecated", "Boolean", "false");
  t.Field("inputFields", "[__InputValue!]",
          PerParent<Type>([](const Type& x, const ResolveParams& p) {
            if (x.kind != TypeKind::kInputObject) return Value();
            return InputValues(x.input_fields, IncludeDeprecated(p));
          }))
      .Arg("includeDeprecated", "Boolean", "false");
  t.Field("ofType", "__Type", PerParent<Type>([](const Type& x, const ResolveParams&) {
            return TypeHandle(x.of_type);
          }));
  t.Field("isOneOf", "Boolean", PerParent<Type>([](const Type& x, const ResolveParams&) {
            return x.kind == TypeKind::kInputObject ? Value(false) : Value();
          }));

  auto f = b.Object("__Field",
                    "Object and Interface types are described by a list of Fields, each of which "
                    "has a name, potentially a list of arguments, and a return type.");
  f.Field("name", "String!", PerParent<FieldDef>([](const FieldDef& x, const ResolveParams&) {
            return Value(StringRef{x.name});
          }));
  f.Field("description", "String", PerParent<FieldDef>([](const FieldDef& x, const ResolveParams&) {
            return OptString(x.description);
          }));
  f.Field("args", "[__InputValue!]!",
          PerParent<FieldDef>([](const FieldDef& x, const ResolveParams& p) {
            return InputValues(x.args, IncludeDeprecated(p));
          }))
      .Arg("includeDeprecated", "Boolean", "false");
  f.Field("type", "__Type!", PerParent<FieldDef>([](const FieldDef& x, const ResolveParams&) {
            return TypeHandle(x.type);
          }));
  f.Field("isDeprecated", "Boolean!",
          PerParent<FieldDef>([](const FieldDef& x, const ResolveParams&) {
            return Value(x.deprecation_reason.has_value());
          }));
  f.Field("deprecationReason", "String",
          PerParent<FieldDef>([](const FieldDef& x, const ResolveParams&) {
            return OptReason(x.deprecation_reason);
          }));

  auto iv = b.Object("__InputValue",
                     "Arguments provided to Fields or Directives and the input fields of an "
                     "InputObject are represented as Input Values which describe their type and "
                     "optionally a default value.");
  iv.Field("name", "String!",
           PerParent<InputValueDef>([](const InputValueDef& x, const ResolveParams&) {
             return Value(StringRef{x.name});
           }));
  iv.Field("description", "String",
           PerParent<InputValueDef>([](const InputValueDef& x, const ResolveParams&) {
             return OptString(x.description);
           }));
  iv.Field("type", "__Type!",
           PerParent<InputValueDef>(
               [](const InputValueDef& x, const ResolveParams&) { return TypeHandle(x.type); }));
  iv.Field("defaultValue", "String",
           PerParent<InputValueDef>([](const InputValueDef& x, const ResolveParams&) {
             return x.default_value ? Value(PrintLiteral(*x.default_value, x.type)) : Value();
           }))
      .Description(
          "A GraphQL-formatted string representing the default value for this input value.");
  iv.Field("isDeprecated", "Boolean!",
           PerParent<InputValueDef>([](const InputValueDef& x, const ResolveParams&) {
             return Value(x.deprecation_reason.has_value());
           }));
  iv.Field("deprecationReason", "String",
           PerParent<InputValueDef>([](const InputValueDef& x, const ResolveParams&) {
             return OptReason(x.deprecation_reason);
           }));

  auto ev = b.Object("__EnumValue",
                     "One possible value for a given Enum. Enum values are unique values, not a "
                     "placeholder for a string or numeric value. However an Enum value is "
                     "returned in a JSON response as a string.");
  ev.Field("name", "String!",
           PerParent<EnumValueDef>([](const EnumValueDef& x, const ResolveParams&) {
             return Value(StringRef{x.name});
           }));
  ev.Field("description", "String",
           PerParent<EnumValueDef>([](const EnumValueDef& x, const ResolveParams&) {
             return OptString(x.description);
           }));
  ev.Field("isDeprecated", "Boolean!",
           PerParent<EnumValueDef>([](const EnumValueDef& x, const ResolveParams&) {
             return Value(x.deprecation_reason.has_value());
           }));
  ev.Field("deprecationReason", "String",
           PerParent<EnumValueDef>([](const EnumValueDef& x, const ResolveParams&) {
             return OptReason(x.deprecation_reason);
           }));

  auto d = b.Object("__Directive",
                    "A Directive provides a way to describe alternate runtime execution and type "
                    "validation behavior in a GraphQL document.\n\nIn some cases, you need to "
                    "provide options to alter GraphQL's execution behavior in ways field "
                    "arguments will not suffice, such as conditionally including or skipping a "
                    "field. Directives provide this by describing additional information to the "
                    "executor.");
  d.Field("name", "String!",
          PerParent<DirectiveDef>([](const DirectiveDef& x, const ResolveParams&) {
            return Value(StringRef{x.name});
          }));
  d.Field("description", "String",
          PerParent<DirectiveDef>([](const DirectiveDef& x, const ResolveParams&) {
            return OptString(x.description);
          }));
  d.Field("isRepeatable", "Boolean!",
          PerParent<DirectiveDef>(
              [](const DirectiveDef& x, const ResolveParams&) { return Value(x.repeatable); }));
  d.Field("locations", "[__DirectiveLocation!]!",
          PerParent<DirectiveDef>([](const DirectiveDef& x, const ResolveParams&) {
            ValueList out;
            for (auto l : x.locations) out.push_back(Value(StringRef{DirectiveLocationName(l)}));
            return Value(std::move(out));
          }));
  d.Field("args", "[__InputValue!]!",
          PerParent<DirectiveDef>([](const DirectiveDef& x, const ResolveParams& p) {
            return InputValues(x.args, IncludeDeprecated(p));
          }))
      .Arg("includeDeprecated", "Boolean", "false");

  auto k = b.Enum("__TypeKind", "An enum describing what kind of type a given `__Type` is.");
  k.AddValue("SCALAR", "Indicates this type is a scalar.")
      .AddValue("OBJECT",
                "Indicates this type is an object. `fields` and `interfaces` are valid fields.")
      .AddValue("INTERFACE",
                "Indicates this type is an interface. `fields`, `interfaces`, and `possibleTypes` "
                "are valid fields.")
      .AddValue("UNION", "Indicates this type is a union. `possibleTypes` is a valid field.")
      .AddValue("ENUM", "Indicates this type is an enum. `enumValues` is a valid field.")
      .AddValue("INPUT_OBJECT",
                "Indicates this type is an input object. `inputFields` is a valid field.")
      .AddValue("LIST", "Indicates this type is a list. `ofType` is a valid field.")
      .AddValue("NON_NULL", "Indicates this type is a non-null. `ofType` is a valid field.");

  auto l = b.Enum("__DirectiveLocation",
                  "A Directive can be adjacent to many parts of the GraphQL language, a "
                  "__DirectiveLocation describes one such possible adjacencies.");
  for (int i = 0; i <= static_cast<int>(DirectiveLocation::kInputFieldDefinition); ++i) {
    l.AddValue(std::string(DirectiveLocationName(static_cast<DirectiveLocation>(i))));
  }
  (void)schema;
}

FieldDef MakeSchemaMetaField(const Schema* schema) {
  FieldDef f;
  f.name = "__schema";
  f.description = "Access the current type schema of this server.";
  f.type_ref = "__Schema!";
  f.resolver = [schema](const ResolveParams& p) {
    return std::vector<Value>(p.parents.size(), Value::Borrowed(schema));
  };
  return f;
}

FieldDef MakeTypeMetaField(const Schema* schema) {
  FieldDef f;
  f.name = "__type";
  f.description = "Request the type information of a single type.";
  f.type_ref = "__Type";
  InputValueDef a;
  a.name = "name";
  a.type_ref = "String!";
  f.args.push_back(std::move(a));
  f.resolver = [schema](const ResolveParams& p) {
    const Value* name = p.Arg("name");
    const Type* t = name && name->IsString() ? schema->FindType(name->AsString()) : nullptr;
    return std::vector<Value>(p.parents.size(), TypeHandle(t));
  };
  return f;
}

}  // namespace psvc::graphql::detail
