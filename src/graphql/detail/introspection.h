#pragma once

#include "graphql/schema.h"

namespace psvc::graphql::detail {

/// Adds __Schema, __Type, __Field, ... with resolvers reading `schema` (not yet built).
void DefineIntrospectionTypes(SchemaBuilder& builder, const Schema* schema);

/// The meta fields __schema and __type(name:) of the query root.
FieldDef MakeSchemaMetaField(const Schema* schema);
FieldDef MakeTypeMetaField(const Schema* schema);

}  // namespace psvc::graphql::detail
