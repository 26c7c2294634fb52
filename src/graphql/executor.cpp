#include "graphql/executor.h"

#include <deque>
#include <exception>
#include <unordered_map>

#include "graphql/detail/coercion.h"
#include "graphql/json.h"
#include "json/json_string.h"

namespace psvc::graphql {
namespace detail {

// One slot of the response tree. Objects and lists own their children; leaves own their value.
struct ResultNode {
  enum class Kind : uint8_t { kNull, kLeaf, kList, kObject };
  Kind kind = Kind::kNull;
  bool non_null = false;  // the slot's type is non-null: a null here nulls the parent
  std::string_view key;   // response key when this is an object field
  Value leaf;
  std::vector<ResultNode> children;
};

// A step of a response path, allocated once per object/list item and shared by descendants.
struct PathNode {
  const PathNode* parent;
  std::string_view key;
  int64_t index;  // -1: key
};

struct ExecutionState {
  bool has_data = false;
  std::vector<Error> errors;
  ResultNode root;
  // Resolver outputs stay alive until the response is written: objects are parents of the
  // next level, and leaves may borrow from them.
  std::deque<std::vector<Value>> results;
  std::deque<PathNode> paths;
  Value root_value;
};

}  // namespace detail

using detail::ExecutionState;
using detail::PathNode;
using detail::ResultNode;

ExecutionResult::ExecutionResult() : state_(std::make_unique<ExecutionState>()) {}
ExecutionResult::ExecutionResult(ExecutionResult&&) noexcept = default;
ExecutionResult& ExecutionResult::operator=(ExecutionResult&&) noexcept = default;
ExecutionResult::~ExecutionResult() = default;
bool ExecutionResult::has_data() const { return state_->has_data; }
const std::vector<Error>& ExecutionResult::errors() const { return state_->errors; }

ExecutionResult MakeErrorResult(std::vector<Error> errors) {
  ExecutionResult r;
  r.state_->errors = std::move(errors);
  return r;
}

void AppendErrorJson(std::string& out, const Error& e) {
  out.append("{\"message\":");
  json::AppendQuoted(out, e.message);
  if (!e.locations.empty()) {
    out.append(",\"locations\":[");
    for (size_t i = 0; i < e.locations.size(); ++i) {
      if (i) out.push_back(',');
      out.append("{\"line\":" + std::to_string(e.locations[i].line) +
                 ",\"column\":" + std::to_string(e.locations[i].column) + "}");
    }
    out.push_back(']');
  }
  if (!e.path.empty()) {
    out.append(",\"path\":[");
    for (size_t i = 0; i < e.path.size(); ++i) {
      if (i) out.push_back(',');
      if (auto* s = std::get_if<std::string>(&e.path[i])) {
        json::AppendQuoted(out, *s);
      } else {
        out.append(std::to_string(std::get<int64_t>(e.path[i])));
      }
    }
    out.push_back(']');
  }
  out.push_back('}');
}

namespace {

// Writes a node; returns false when it came out null (so a non-null parent turns null too).
bool WriteNode(std::string& out, const ResultNode& node) {
  switch (node.kind) {
    case ResultNode::Kind::kNull:
      out.append("null");
      return false;
    case ResultNode::Kind::kLeaf:
      AppendJson(out, node.leaf);
      return true;
    case ResultNode::Kind::kList:
    case ResultNode::Kind::kObject: {
      bool object = node.kind == ResultNode::Kind::kObject;
      size_t start = out.size();
      out.push_back(object ? '{' : '[');
      for (size_t i = 0; i < node.children.size(); ++i) {
        const ResultNode& c = node.children[i];
        if (i) out.push_back(',');
        if (object) {
          json::AppendQuoted(out, c.key);
          out.push_back(':');
        }
        if (!WriteNode(out, c) && c.non_null) {
          // Null propagation (§6.4.4): this whole object/list becomes null.
          out.resize(start);
          out.append("null");
          return false;
        }
      }
      out.push_back(object ? '}' : ']');
      return true;
    }
  }
  return false;
}

}  // namespace

void ExecutionResult::AppendJson(std::string& out) const {
  out.push_back('{');
  if (!state_->errors.empty()) {
    out.append("\"errors\":[");
    for (size_t i = 0; i < state_->errors.size(); ++i) {
      if (i) out.push_back(',');
      AppendErrorJson(out, state_->errors[i]);
    }
    out.push_back(']');
    if (state_->has_data) out.push_back(',');
  }
  if (state_->has_data) {
    out.append("\"data\":");
    WriteNode(out, state_->root);
  }
  out.push_back('}');
}

namespace {

using FieldGroup = std::pair<std::string_view, std::vector<const SelectionNode*>>;

struct PendingObject {
  ResultNode* out;
  const Value* source;
  const Type* type;  // concrete object type
  const PathNode* path;
};

class Executor final : public SelectionLookAhead {
 public:
  Executor(const Schema& schema, ExecutionState& state, const Document& doc, void* context)
      : schema_(schema), state_(state), doc_(doc), context_(context) {
    for (const auto& f : doc_.fragments) fragments_.emplace(f.name, &f);
  }

  bool CoerceVariables(const OperationNode& op, const ValueMap* raw) {
    TypeArena arena(schema_);
    for (const auto& def : op.variables) {
      const Type* type = arena.Resolve(def.type);
      std::string name =
          std::string("$").append(def.name);  // not "$" + ...: GCC 12 -Wrestrict false positive
      if (!type || !type->IsInput()) {
        Fail("Variable \"" + name + "\" has an invalid type.", {def.loc});
        continue;
      }
      const Value* given = nullptr;
      if (raw) {
        for (const auto& [k, v] : *raw) {
          if (k == def.name) given = &v;
        }
      }
      if (!given) {
        if (def.default_value) {
          std::string why;
          if (auto v = CoerceLiteral(*def.default_value, type, nullptr, &why)) {
            variables_.emplace_back(std::string(def.name), std::move(*v));
          } else {
            Fail("Variable \"" + name + "\" has an invalid default value; " + why, {def.loc});
          }
        } else if (type->kind == TypeKind::kNonNull) {
          Fail("Variable \"" + name + "\" of required type \"" + type->ToString() +
                   "\" was not provided.",
               {def.loc});
        }
        continue;
      }
      if (given->IsNull() && type->kind == TypeKind::kNonNull) {
        Fail("Variable \"" + name + "\" of non-null type \"" + type->ToString() +
                 "\" must not be null.",
             {def.loc});
        continue;
      }
      std::string why;
      if (auto v = CoerceInput(*given, type, &why)) {
        variables_.emplace_back(std::string(def.name), std::move(*v));
      } else {
        Fail("Variable \"" + name + "\" got invalid value " + Inspect(*given) + "; " + why,
             {def.loc});
      }
    }
    return state_.errors.empty();
  }

  // §6.2.3.1 CreateSourceEventStream up to the resolver: the single root field (validation
  // guarantees one) and its coerced arguments.
  void SubscriptionRoot(const OperationNode& op, const Type* root_type, SubscriptionField& out) {
    std::vector<FieldGroup> fields;
    std::unordered_map<std::string_view, size_t> index;
    std::vector<std::string_view> visited;
    CollectFields(root_type, op.selections, fields, index, visited);
    if (fields.empty()) {
      out.errors.push_back({"The subscription selects no field.", {op.loc}, {}});
      return;
    }
    const SelectionNode& node = *fields.front().second.front();
    const FieldDef* def = schema_.FindField(root_type, node.name, false);
    if (!def) {
      out.errors.push_back(
          {"The subscription field \"" + std::string(node.name) + "\" is not defined.",
           {node.loc},
           {}});
      return;
    }
    std::string error;
    auto args = CoerceArguments(*def, node, &error);
    if (!args) {
      out.errors.push_back({error, {node.loc}, {std::string(fields.front().first)}});
      return;
    }
    out.name = def->name;
    out.response_key = std::string(fields.front().first);
    out.args = std::move(*args);
  }

  std::vector<Error>& errors() { return state_.errors; }

  void Run(const OperationNode& op, const Type* root_type) {
    state_.has_data = true;
    std::vector<PendingObject> roots{{&state_.root, &state_.root_value, root_type, nullptr}};
    std::vector<const std::vector<SelectionNode>*> sets{&op.selections};
    ExecuteLevel(sets, roots);
  }

 private:
  void Fail(std::string message, std::vector<SourceLocation> locations) {
    state_.errors.push_back(Error{std::move(message), std::move(locations), {}});
  }

  void FieldError(std::string message, const SelectionNode& node, const PathNode* path) {
    Error e{std::move(message), {node.loc}, {}};
    size_t n = 0;
    for (const PathNode* p = path; p; p = p->parent) ++n;
    e.path.resize(n);
    for (const PathNode* p = path; p; p = p->parent) {
      --n;
      if (p->index >= 0) {
        e.path[n] = p->index;
      } else {
        e.path[n] = std::string(p->key);
      }
    }
    state_.errors.push_back(std::move(e));
  }

  // A path step made only when needed (an error, an object or a list): leaves never need one.
  struct LazyPath {
    const PathNode* parent;
    std::string_view key;
    int64_t index;
    const PathNode* made = nullptr;
  };
  const PathNode* Materialize(LazyPath& lazy) {
    if (!lazy.made) lazy.made = Path(lazy.parent, lazy.key, lazy.index);
    return lazy.made;
  }

  const PathNode* Path(const PathNode* parent, std::string_view key, int64_t index) {
    state_.paths.push_back(PathNode{parent, key, index});
    return &state_.paths.back();
  }

  std::vector<FieldGroup> Collect(std::string_view object_type,
                                  std::span<const SelectionNode* const> nodes) const override {
    std::vector<FieldGroup> out;
    const Type* object = schema_.FindType(object_type);
    if (!object) return out;
    std::unordered_map<std::string_view, size_t> index;
    std::vector<std::string_view> visited;
    for (const SelectionNode* n : nodes) CollectFields(object, n->selections, out, index, visited);
    return out;
  }

  // §6.3.2 CollectFields, with @skip/@include evaluated against the coerced variables.
  bool Included(const std::vector<DirectiveNode>& directives) const {
    for (const auto& d : directives) {
      bool skip = d.name == "skip";
      if (!skip && d.name != "include") continue;
      for (const auto& a : d.arguments) {
        if (a.name != "if") continue;
        auto v = CoerceLiteral(a.value, schema_.NonNullOf(schema_.FindType("Boolean")), &variables_,
                               nullptr);
        bool flag = v && v->IsBool() && v->AsBool();
        if (skip == flag) return false;
      }
    }
    return true;
  }

  bool TypeApplies(const Type* object, std::string_view condition) const {
    if (condition.empty() || condition == object->name) return true;
    const Type* t = schema_.FindType(condition);
    return t && t->IsAbstract() && t->IsPossibleType(object);
  }

  void CollectFields(const Type* object, const std::vector<SelectionNode>& sels,
                     std::vector<FieldGroup>& out,
                     std::unordered_map<std::string_view, size_t>& index,
                     std::vector<std::string_view>& visited) const {
    for (const auto& s : sels) {
      if (!s.directives.empty() && !Included(s.directives)) continue;
      switch (s.kind) {
        case SelectionNode::Kind::kField: {
          auto [it, inserted] = index.emplace(s.ResponseKey(), out.size());
          if (inserted) out.emplace_back(s.ResponseKey(), std::vector<const SelectionNode*>{});
          out[it->second].second.push_back(&s);
          break;
        }
        case SelectionNode::Kind::kInlineFragment:
          if (TypeApplies(object, s.type_condition)) {
            CollectFields(object, s.selections, out, index, visited);
          }
          break;
        case SelectionNode::Kind::kFragmentSpread: {
          if (std::find(visited.begin(), visited.end(), s.name) != visited.end()) break;
          visited.push_back(s.name);
          auto it = fragments_.find(s.name);
          if (it == fragments_.end() || !TypeApplies(object, it->second->type_condition)) break;
          CollectFields(object, it->second->selections, out, index, visited);
          break;
        }
      }
    }
  }

  // §6.4.1 CoerceArgumentValues; nullopt after reporting the error to every parent.
  std::optional<ValueMap> CoerceArguments(const FieldDef& def, const SelectionNode& node,
                                          std::string* error) {
    ValueMap out;
    for (const auto& arg : def.args) {
      const ArgumentNode* given = nullptr;
      for (const auto& a : node.arguments) {
        if (a.name == arg.name) given = &a;
      }
      bool has_value = given != nullptr;
      const Value* var_value = nullptr;
      if (given && given->value.kind == ValueNodeKind::kVariable) {
        for (const auto& [k, v] : variables_) {
          if (k == given->value.text) var_value = &v;
        }
        has_value = var_value != nullptr;
      }
      if (!has_value) {
        if (arg.default_value) {
          out.emplace_back(arg.name, *arg.default_value);
        } else if (arg.type->kind == TypeKind::kNonNull) {
          *error = given ? "Argument \"" + arg.name + "\" of required type \"" +
                               arg.type->ToString() + "\" was provided the variable \"$" +
                               std::string(given->value.text) +
                               "\" which was not provided a runtime value."
                         : "Argument \"" + arg.name + "\" of required type \"" +
                               arg.type->ToString() + "\" was not provided.";
          return std::nullopt;
        }
        continue;
      }
      if (var_value) {
        if (var_value->IsNull() && arg.type->kind == TypeKind::kNonNull) {
          *error = "Argument \"" + arg.name + "\" of non-null type \"" + arg.type->ToString() +
                   "\" must not be null.";
          return std::nullopt;
        }
        out.emplace_back(arg.name, *var_value);
        continue;
      }
      std::string why;
      auto v = CoerceLiteral(given->value, arg.type, &variables_, &why);
      if (!v) {
        *error =
            "Argument \"" + arg.name + "\" has invalid value " + PrintValueNode(given->value) + ".";
        return std::nullopt;
      }
      out.emplace_back(arg.name, std::move(*v));
    }
    return out;
  }

  void ExecuteLevel(const std::vector<const std::vector<SelectionNode>*>& sets,
                    std::vector<PendingObject>& objects) {
    // Objects of one level may have different concrete types (interfaces, unions): each type
    // gets its own field collection, and each field one resolver call per type.
    std::vector<const Type*> types;
    for (const auto& o : objects) {
      if (std::find(types.begin(), types.end(), o.type) == types.end()) types.push_back(o.type);
    }
    for (const Type* type : types) {
      std::vector<PendingObject*> group;
      group.reserve(objects.size());
      for (auto& o : objects) {
        if (o.type == type) group.push_back(&o);
      }
      std::vector<FieldGroup> fields;
      std::unordered_map<std::string_view, size_t> index;
      std::vector<std::string_view> visited;
      for (const auto* set : sets) CollectFields(type, *set, fields, index, visited);
      for (PendingObject* o : group) {
        o->out->kind = ResultNode::Kind::kObject;
        o->out->children.resize(fields.size());
        for (size_t k = 0; k < fields.size(); ++k) o->out->children[k].key = fields[k].first;
      }
      for (size_t k = 0; k < fields.size(); ++k) ExecuteField(type, fields[k], k, group);
    }
  }

  void ExecuteField(const Type* type, const FieldGroup& field, size_t slot,
                    const std::vector<PendingObject*>& group) {
    const SelectionNode& node = *field.second.front();
    const FieldDef* def = schema_.FindField(type, node.name, true);
    if (!def) return;  // validation guarantees this does not happen
    if (def == &schema_.typename_field()) {
      for (PendingObject* o : group) {
        ResultNode& r = o->out->children[slot];
        r.kind = ResultNode::Kind::kLeaf;
        r.non_null = true;
        r.leaf = Value(StringRef{type->name});
      }
      return;
    }
    std::string error;
    auto args = CoerceArguments(*def, node, &error);
    if (!args) {
      for (PendingObject* o : group) {
        o->out->children[slot].non_null = def->type->kind == TypeKind::kNonNull;
        FieldError(error, node, Path(o->path, field.first, -1));
      }
      return;
    }
    std::vector<const Value*> parents;
    parents.reserve(group.size());
    for (PendingObject* o : group) parents.push_back(o->source);
    ResolveParams params{parents, *args, *def, *type, node, context_, field.second, *this};
    std::vector<Value> results;
    try {
      if (def->resolver) {
        results = def->resolver(params);
      } else {
        results.reserve(parents.size());
        for (const Value* p : parents) {
          const Value& parent = p->Deref();
          const Value* v = parent.Find(def->name);
          if (v) {
            results.push_back(Value::Ref(*v));
          } else if (parent.IsMap()) {
            results.emplace_back();
          } else {
            results.push_back(
                Value::Error("Field \"" + type->name + "." + def->name + "\" has no resolver."));
          }
        }
      }
      if (results.size() != parents.size()) {
        throw std::runtime_error("Resolver for \"" + type->name + "." + def->name + "\" returned " +
                                 std::to_string(results.size()) + " results for " +
                                 std::to_string(parents.size()) + " parents.");
      }
    } catch (const std::exception& e) {
      results.assign(parents.size(), Value::Error(e.what()));
    }
    state_.results.push_back(std::move(results));
    std::vector<Value>& stored = state_.results.back();

    std::vector<PendingObject> next;
    for (size_t i = 0; i < group.size(); ++i) {
      LazyPath path{group[i]->path, field.first, -1};
      Complete(def, type, def->type, stored[i], &stored[i], group[i]->out->children[slot], path,
               node, next);
    }
    if (next.empty()) return;
    std::vector<const std::vector<SelectionNode>*> sets;
    for (const SelectionNode* n : field.second) sets.push_back(&n->selections);
    ExecuteLevel(sets, next);
  }

  // §6.4.3 CompleteValue. `movable` is the value itself when the engine owns it (leaves are
  // moved into the response), nullptr when it is borrowed.
  void Complete(const FieldDef* def, const Type* parent_type, const Type* type, const Value& raw,
                Value* movable, ResultNode& out, LazyPath& lazy, const SelectionNode& node,
                std::vector<PendingObject>& next) {
    const Value& v = raw.Deref();
    if (&v != &raw) movable = nullptr;
    if (type->kind == TypeKind::kNonNull) {
      out.non_null = true;
      type = type->of_type;
    }
    if (v.IsError()) {
      FieldError(v.AsError(), node, Materialize(lazy));
      return;
    }
    if (v.IsNull()) {
      if (out.non_null) {
        FieldError("Cannot return null for non-nullable field " + parent_type->name + "." +
                       def->name + ".",
                   node, Materialize(lazy));
      }
      return;
    }
    switch (type->kind) {
      case TypeKind::kList: {
        if (!v.IsList()) {
          FieldError("Expected Iterable, but did not find one for field \"" + parent_type->name +
                         "." + def->name + "\".",
                     node, Materialize(lazy));
          return;
        }
        const ValueList& items = v.AsList();
        out.kind = ResultNode::Kind::kList;
        out.children.resize(items.size());
        ValueList* mutable_items = movable ? &movable->AsList() : nullptr;
        const PathNode* list_path = Materialize(lazy);
        for (size_t i = 0; i < items.size(); ++i) {
          LazyPath item{list_path, {}, static_cast<int64_t>(i)};
          Complete(def, parent_type, type->of_type, items[i],
                   mutable_items ? &(*mutable_items)[i] : nullptr, out.children[i], item, node,
                   next);
        }
        return;
      }
      case TypeKind::kScalar:
      case TypeKind::kEnum: {
        Value leaf;
        if (movable) {
          leaf = std::move(*movable);
        } else if (auto* s = std::get_if<std::string>(&v.storage())) {
          leaf = Value(StringRef{*s});
        } else {
          leaf = v;
        }
        std::string error;
        if (!detail::SerializeLeaf(leaf, type, &error)) {
          FieldError(error, node, Materialize(lazy));
          return;
        }
        out.kind = ResultNode::Kind::kLeaf;
        out.leaf = std::move(leaf);
        return;
      }
      case TypeKind::kObject:
        next.push_back({&out, &v, type, Materialize(lazy)});
        return;
      case TypeKind::kInterface:
      case TypeKind::kUnion: {
        std::string_view name;
        if (type->resolve_type) {
          name = type->resolve_type(v);
        } else if (v.IsOpaque()) {
          name = v.AsOpaque().type_name;
        } else if (const Value* tn = v.Find("__typename"); tn && tn->Deref().IsString()) {
          name = tn->Deref().AsString();
        }
        const Type* concrete = name.empty() ? nullptr : schema_.FindType(name);
        if (!concrete || concrete->kind != TypeKind::kObject || !type->IsPossibleType(concrete)) {
          FieldError(name.empty()
                         ? "Abstract type \"" + type->name +
                               "\" must resolve to an Object type at runtime for field \"" +
                               parent_type->name + "." + def->name + "\"."
                         : "Runtime Object type \"" + std::string(name) +
                               "\" is not a possible type for \"" + type->name + "\".",
                     node, Materialize(lazy));
          return;
        }
        next.push_back({&out, &v, concrete, Materialize(lazy)});
        return;
      }
      default:
        FieldError("Field type is not an output type.", node, Materialize(lazy));
    }
  }

  const Schema& schema_;
  ExecutionState& state_;
  const Document& doc_;
  void* context_;
  ValueMap variables_;
  std::unordered_map<std::string_view, const FragmentNode*> fragments_;
};

}  // namespace

namespace {

// §6.1 GetOperation; nullptr after adding the request error.
const OperationNode* FindOperation(const Document& doc, std::string_view name,
                                   std::vector<Error>& errors) {
  if (name.empty()) {
    if (doc.operations.size() == 1) return &doc.operations.front();
    errors.push_back({doc.operations.empty()
                          ? "Must provide an operation."
                          : "Must provide operation name if query contains multiple operations.",
                      {},
                      {}});
    return nullptr;
  }
  for (const auto& o : doc.operations) {
    if (o.name == name) return &o;
  }
  errors.push_back({"Unknown operation named \"" + std::string(name) + "\".", {}, {}});
  return nullptr;
}

const Type* RootTypeOf(const Schema& schema, const OperationNode& op) {
  switch (op.operation) {
    case OperationType::kQuery:
      return schema.query_type();
    case OperationType::kMutation:
      return schema.mutation_type();
    case OperationType::kSubscription:
      return schema.subscription_type();
  }
  return nullptr;
}

std::string NoRootTypeMessage(const OperationNode& op) {
  return op.operation == OperationType::kSubscription
             ? "Schema is not configured to execute subscription operation."
             : "Schema is not configured to execute mutation operation.";
}

}  // namespace

SubscriptionField ResolveSubscriptionField(const Schema& schema, const Document& document,
                                           std::string_view operation_name,
                                           const ValueMap* variables) {
  SubscriptionField out;
  const OperationNode* op = FindOperation(document, operation_name, out.errors);
  if (!op) return out;
  if (op->operation != OperationType::kSubscription) {
    out.errors.push_back({"The operation is not a subscription.", {op->loc}, {}});
    return out;
  }
  const Type* root = RootTypeOf(schema, *op);
  if (!root) {
    out.errors.push_back({NoRootTypeMessage(*op), {op->loc}, {}});
    return out;
  }
  ExecutionState state;
  Executor executor(schema, state, document, nullptr);
  if (!executor.CoerceVariables(*op, variables)) {
    out.errors = std::move(executor.errors());
    return out;
  }
  executor.SubscriptionRoot(*op, root, out);
  return out;
}

ExecutionResult Execute(const Schema& schema, ExecutionRequest&& request) {
  ExecutionResult result;
  ExecutionState& state = *result.state_;
  const Document& doc = *request.document;
  const OperationNode* op = FindOperation(doc, request.operation_name, state.errors);
  if (!op) return result;
  // A subscription runs here once per event of its source stream (§6.2.3.2
  // MapSourceToResponseEvent): the event is the root value its root field resolves from.
  const Type* root = RootTypeOf(schema, *op);
  if (!root) {
    state.errors.push_back({NoRootTypeMessage(*op), {op->loc}, {}});
    return result;
  }
  state.root_value = std::move(request.root_value);
  Executor executor(schema, state, doc, request.context);
  if (!executor.CoerceVariables(*op, request.variables)) return result;
  executor.Run(*op, root);
  return result;
}

}  // namespace psvc::graphql
