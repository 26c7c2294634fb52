#include "graphql/validator.h"

#include <algorithm>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>

namespace psvc::graphql {
namespace {

std::string Quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

// Spec §5.5.2.3 / graphql-js doTypesOverlap.
bool TypesOverlap(const Type* a, const Type* b) {
  if (a == b) return true;
  if (a->IsAbstract()) {
    if (b->IsAbstract()) {
      for (const Type* t : a->possible_types) {
        if (b->IsPossibleType(t)) return true;
      }
      return false;
    }
    return a->IsPossibleType(b);
  }
  if (b->IsAbstract()) return b->IsPossibleType(a);
  return false;
}

bool IsSubType(const Type* sub, const Type* super) {
  if (sub == super) return true;
  if (super->kind == TypeKind::kNonNull) {
    return sub->kind == TypeKind::kNonNull && IsSubType(sub->of_type, super->of_type);
  }
  if (sub->kind == TypeKind::kNonNull) return IsSubType(sub->of_type, super);
  if (super->kind == TypeKind::kList) {
    return sub->kind == TypeKind::kList && IsSubType(sub->of_type, super->of_type);
  }
  if (sub->kind == TypeKind::kList) return false;
  // Different wrapper objects may stand for the same named type only via names.
  if (sub->name == super->name) return true;
  return super->IsAbstract() && super->IsPossibleType(sub);
}

bool TypesConflict(const Type* a, const Type* b) {
  if (a->kind == TypeKind::kList) {
    return b->kind == TypeKind::kList ? TypesConflict(a->of_type, b->of_type) : true;
  }
  if (b->kind == TypeKind::kList) return true;
  if (a->kind == TypeKind::kNonNull) {
    return b->kind == TypeKind::kNonNull ? TypesConflict(a->of_type, b->of_type) : true;
  }
  if (b->kind == TypeKind::kNonNull) return true;
  if (a->IsLeaf() || b->IsLeaf()) return a != b;
  return false;
}

bool SameValue(const ValueNode& a, const ValueNode& b) {
  return PrintValueNode(a) == PrintValueNode(b);
}

bool SameArguments(const SelectionNode& a, const SelectionNode& b) {
  if (a.arguments.size() != b.arguments.size()) return false;
  for (const auto& x : a.arguments) {
    auto it = std::find_if(b.arguments.begin(), b.arguments.end(),
                           [&](const ArgumentNode& y) { return y.name == x.name; });
    if (it == b.arguments.end() || !SameValue(x.value, it->value)) return false;
  }
  return true;
}

struct VarUsage {
  std::string_view name;
  SourceLocation loc;
  const Type* type;  // expected type at the position, or nullptr when unknown
  bool location_has_default;
};

struct FragmentInfo {
  std::vector<VarUsage> usages;
  std::vector<std::string_view> spreads;  // direct spreads, anywhere in the fragment
};

constexpr uint64_t kCostCap = uint64_t{1} << 60;

class Validator {
 public:
  Validator(const Schema& schema, const Document& doc, const ValidationOptions& options)
      : schema_(schema), doc_(doc), options_(options), arena_(schema) {}

  std::vector<Error> Run() {
    CheckDefinitions();
    for (const auto& f : doc_.fragments) {
      if (fragments_.at(f.name) != &f) continue;  // duplicate name: reported already
      WalkFragment(f);
    }
    std::unordered_set<std::string_view> used_fragments;
    for (const auto& op : doc_.operations) WalkOperation(op, used_fragments);
    for (const auto& f : doc_.fragments) {
      if (!used_fragments.count(f.name)) {
        Report("Fragment " + Quote(f.name) + " is never used.", {f.loc});
      }
    }
    bool cycles = CheckFragmentCycles();
    if (!cycles) {
      bool limits_ok = true;
      for (const auto& op : doc_.operations) limits_ok = CheckLimits(op) && limits_ok;
      // Overlap checking is quadratic in the worst case: only run it on documents that fit
      // within the cost budget.
      if (limits_ok) {
        for (const auto& op : doc_.operations) CheckMergeable(RootType(op), op.selections);
        for (const auto& f : doc_.fragments) {
          CheckMergeable(schema_.FindType(f.type_condition), f.selections);
        }
      }
    }
    if (too_complex_) Report("Document is too complex to validate.", {});
    return std::move(errors_);
  }

 private:
  void Report(std::string message, std::vector<SourceLocation> locations) {
    errors_.push_back(Error{std::move(message), std::move(locations), {}});
  }

  const Type* RootType(const OperationNode& op) const {
    switch (op.operation) {
      case OperationType::kQuery:
        return schema_.query_type();
      case OperationType::kMutation:
        return schema_.mutation_type();
      case OperationType::kSubscription:
        return schema_.subscription_type();
    }
    return nullptr;
  }

  void CheckDefinitions() {
    std::unordered_map<std::string_view, const OperationNode*> ops;
    for (const auto& op : doc_.operations) {
      if (op.name.empty()) {
        if (doc_.operations.size() > 1) {
          Report("This anonymous operation must be the only defined operation.", {op.loc});
        }
        continue;
      }
      auto [it, inserted] = ops.emplace(op.name, &op);
      if (!inserted) {
        Report("There can be only one operation named " + Quote(op.name) + ".",
               {it->second->loc, op.loc});
      }
    }
    for (const auto& f : doc_.fragments) {
      auto [it, inserted] = fragments_.emplace(f.name, &f);
      if (!inserted) {
        Report("There can be only one fragment named " + Quote(f.name) + ".",
               {it->second->loc, f.loc});
      }
    }
  }

  // ----------------------------------------------------------- walking

  void WalkFragment(const FragmentNode& f) {
    FragmentInfo& info = fragment_info_[f.name];
    const Type* type = schema_.FindType(f.type_condition);
    if (!type) {
      Report("Unknown type " + Quote(f.type_condition) + ".", {f.type_condition_loc});
    } else if (!type->IsComposite()) {
      Report("Fragment " + Quote(f.name) + " cannot condition on non composite type " +
                 Quote(f.type_condition) + ".",
             {f.type_condition_loc});
      type = nullptr;
    }
    CheckDirectives(f.directives, DirectiveLocation::kFragmentDefinition, info);
    WalkSelections(f.selections, type, info);
  }

  void WalkOperation(const OperationNode& op,
                     std::unordered_set<std::string_view>& used_fragments) {
    const Type* root = RootType(op);
    static constexpr std::string_view kOpNames[] = {"query", "mutation", "subscription"};
    if (!root) {
      Report("The " + std::string(kOpNames[static_cast<int>(op.operation)]) +
                 " operation is not supported by the schema.",
             {op.loc});
    }
    if (op.operation == OperationType::kSubscription && root) CheckSingleRootField(op, root);
    FragmentInfo info;
    struct VarDef {
      const VariableDefinitionNode* node;
      const Type* type;
      bool used = false;
    };
    std::vector<VarDef> defs;
    for (const auto& v : op.variables) {
      bool dup = false;
      for (const auto& d : defs) dup = dup || d.node->name == v.name;
      if (dup) {
        Report("There can be only one variable named \"$" + std::string(v.name) + "\".",
               {FindVar(op, v.name)->loc, v.loc});
        continue;
      }
      const Type* t = arena_.Resolve(v.type);
      if (!t) {
        const TypeNode* n = &v.type;
        while (n->of) n = n->of.get();
        Report("Unknown type " + Quote(n->name) + ".", {n->loc});
      } else if (!t->IsInput()) {
        Report("Variable \"$" + std::string(v.name) + "\" cannot be non-input type " +
                   Quote(t->ToString()) + ".",
               {v.type.loc});
        t = nullptr;
      }
      if (t && v.default_value) {
        FragmentInfo ignored;
        CheckValue(*v.default_value, t, false, ignored);
      }
      CheckDirectives(v.directives, DirectiveLocation::kVariableDefinition, info);
      defs.push_back({&v, t});
    }
    static constexpr DirectiveLocation kOpLocations[] = {
        DirectiveLocation::kQuery, DirectiveLocation::kMutation, DirectiveLocation::kSubscription};
    CheckDirectives(op.directives, kOpLocations[static_cast<int>(op.operation)], info);
    WalkSelections(op.selections, root, info);

    // Variable usages of this operation and of every fragment it reaches.
    std::vector<const VarUsage*> usages;
    for (const auto& u : info.usages) usages.push_back(&u);
    std::vector<std::string_view> stack = info.spreads;
    std::unordered_set<std::string_view> reached;
    while (!stack.empty()) {
      std::string_view name = stack.back();
      stack.pop_back();
      if (!fragments_.count(name) || !reached.insert(name).second) continue;
      used_fragments.insert(name);
      const FragmentInfo& fi = fragment_info_[name];
      for (const auto& u : fi.usages) usages.push_back(&u);
      for (auto s : fi.spreads) stack.push_back(s);
    }
    for (const VarUsage* u : usages) {
      VarDef* def = nullptr;
      for (auto& d : defs) {
        if (d.node->name == u->name) def = &d;
      }
      if (!def) {
        Report("Variable \"$" + std::string(u->name) + "\" is not defined" +
                   (op.name.empty() ? "" : " by operation " + Quote(op.name)) + ".",
               {u->loc, op.loc});
        continue;
      }
      def->used = true;
      if (!def->type || !u->type) continue;
      if (!AllowedPosition(*def->node, def->type, u->type, u->location_has_default)) {
        Report("Variable \"$" + std::string(u->name) + "\" of type " +
                   Quote(def->type->ToString()) + " used in position expecting type " +
                   Quote(u->type->ToString()) + ".",
               {def->node->loc, u->loc});
      }
    }
    for (const auto& d : defs) {
      if (!d.used) {
        Report("Variable \"$" + std::string(d.node->name) + "\" is never used" +
                   (op.name.empty() ? "" : " in operation " + Quote(op.name)) + ".",
               {d.node->loc});
      }
    }
  }

  static const VariableDefinitionNode* FindVar(const OperationNode& op, std::string_view name) {
    for (const auto& v : op.variables) {
      if (v.name == name) return &v;
    }
    return nullptr;
  }

  static bool AllowedPosition(const VariableDefinitionNode& def, const Type* var_type,
                              const Type* location_type, bool location_has_default) {
    if (location_type->kind == TypeKind::kNonNull && var_type->kind != TypeKind::kNonNull) {
      bool non_null_default = def.default_value && def.default_value->kind != ValueNodeKind::kNull;
      if (!non_null_default && !location_has_default) return false;
      return IsSubType(var_type, location_type->of_type);
    }
    return IsSubType(var_type, location_type);
  }

  void CheckSingleRootField(const OperationNode& op, const Type* root) {
    // Counts the fields the subscription would select at its root (fragments expanded).
    std::vector<const SelectionNode*> fields;
    std::unordered_set<std::string_view> seen_keys, visited;
    std::vector<const std::vector<SelectionNode>*> stack{&op.selections};
    while (!stack.empty()) {
      auto* sels = stack.back();
      stack.pop_back();
      for (const auto& s : *sels) {
        if (s.kind == SelectionNode::Kind::kField) {
          if (seen_keys.insert(s.ResponseKey()).second) fields.push_back(&s);
        } else if (s.kind == SelectionNode::Kind::kInlineFragment) {
          stack.push_back(&s.selections);
        } else if (visited.insert(s.name).second) {
          auto it = fragments_.find(s.name);
          if (it != fragments_.end()) stack.push_back(&it->second->selections);
        }
      }
    }
    std::string who = op.name.empty() ? "Anonymous Subscription" : "Subscription " + Quote(op.name);
    if (fields.size() > 1) {
      std::vector<SourceLocation> locs;
      for (size_t i = 1; i < fields.size(); ++i) locs.push_back(fields[i]->loc);
      Report(who + " must select only one top level field.", locs);
    }
    for (const auto* f : fields) {
      if (f->name.starts_with("__")) {
        Report(who + " must not select an introspection top level field.", {f->loc});
      }
    }
    (void)root;
  }

  void WalkSelections(const std::vector<SelectionNode>& sels, const Type* parent,
                      FragmentInfo& info) {
    for (const auto& s : sels) {
      switch (s.kind) {
        case SelectionNode::Kind::kField:
          WalkField(s, parent, info);
          break;
        case SelectionNode::Kind::kInlineFragment: {
          const Type* type = parent;
          if (!s.type_condition.empty()) {
            type = schema_.FindType(s.type_condition);
            if (!type) {
              Report("Unknown type " + Quote(s.type_condition) + ".", {s.loc});
            } else if (!type->IsComposite()) {
              Report("Fragment cannot condition on non composite type " + Quote(s.type_condition) +
                         ".",
                     {s.loc});
              type = nullptr;
            } else if (parent && !TypesOverlap(type, parent)) {
              Report("Fragment cannot be spread here as objects of type " + Quote(parent->name) +
                         " can never be of type " + Quote(type->name) + ".",
                     {s.loc});
            }
          }
          CheckDirectives(s.directives, DirectiveLocation::kInlineFragment, info);
          WalkSelections(s.selections, type, info);
          break;
        }
        case SelectionNode::Kind::kFragmentSpread: {
          info.spreads.push_back(s.name);
          auto it = fragments_.find(s.name);
          if (it == fragments_.end()) {
            Report("Unknown fragment " + Quote(s.name) + ".", {s.loc});
          } else if (parent) {
            const Type* type = schema_.FindType(it->second->type_condition);
            if (type && type->IsComposite() && !TypesOverlap(type, parent)) {
              Report("Fragment " + Quote(s.name) + " cannot be spread here as objects of type " +
                         Quote(parent->name) + " can never be of type " + Quote(type->name) + ".",
                     {s.loc});
            }
          }
          CheckDirectives(s.directives, DirectiveLocation::kFragmentSpread, info);
          break;
        }
      }
    }
  }

  void WalkField(const SelectionNode& s, const Type* parent, FragmentInfo& info) {
    const FieldDef* def = nullptr;
    if (parent) {
      def = schema_.FindField(parent, s.name, options_.introspection);
      if (!def) {
        Report("Cannot query field " + Quote(s.name) + " on type " + Quote(parent->name) + ".",
               {s.loc});
      }
    }
    CheckArguments(
        s.arguments, def ? &def->args : nullptr, s.loc, info,
        [&](std::string_view a) {
          return "Unknown argument " + Quote(a) + " on field " +
                 Quote(parent->name + "." + std::string(s.name)) + ".";
        },
        [&](const InputValueDef& a) {
          return "Field " + Quote(s.name) + " argument " + Quote(a.name) + " of type " +
                 Quote(a.type->ToString()) + " is required, but it was not provided.";
        });
    CheckDirectives(s.directives, DirectiveLocation::kField, info);
    const Type* child = nullptr;
    if (def) {
      const Type* named = def->type->Named();
      if (named->IsLeaf()) {
        if (!s.selections.empty()) {
          Report("Field " + Quote(s.name) + " must not have a selection since type " +
                     Quote(def->type->ToString()) + " has no subfields.",
                 {s.loc});
        }
      } else {
        child = named;
        if (s.selections.empty()) {
          Report("Field " + Quote(s.name) + " of type " + Quote(def->type->ToString()) +
                     " must have a selection of subfields. Did you mean \"" + std::string(s.name) +
                     " { ... }\"?",
                 {s.loc});
        }
      }
    }
    WalkSelections(s.selections, child, info);
  }

  template <class UnknownMsg, class RequiredMsg>
  void CheckArguments(const std::vector<ArgumentNode>& args, const std::vector<InputValueDef>* defs,
                      SourceLocation owner_loc, FragmentInfo& info, UnknownMsg unknown,
                      RequiredMsg required) {
    for (size_t i = 0; i < args.size(); ++i) {
      const ArgumentNode& a = args[i];
      for (size_t j = 0; j < i; ++j) {
        if (args[j].name == a.name) {
          Report("There can be only one argument named " + Quote(a.name) + ".",
                 {args[j].loc, a.loc});
          break;
        }
      }
      const InputValueDef* def = nullptr;
      if (defs) {
        for (const auto& d : *defs) {
          if (d.name == a.name) def = &d;
        }
        if (!def) Report(unknown(a.name), {a.loc});
      }
      if (def) {
        CheckValue(a.value, def->type, def->default_value.has_value(), info);
      } else {
        CollectVariables(a.value, info);
      }
    }
    if (!defs) return;
    for (const auto& d : *defs) {
      if (d.type->kind != TypeKind::kNonNull || d.default_value) continue;
      bool given = std::any_of(args.begin(), args.end(),
                               [&](const ArgumentNode& a) { return a.name == d.name; });
      if (!given) Report(required(d), {owner_loc});
    }
  }

  void CheckDirectives(const std::vector<DirectiveNode>& dirs, DirectiveLocation location,
                       FragmentInfo& info) {
    for (size_t i = 0; i < dirs.size(); ++i) {
      const DirectiveNode& d = dirs[i];
      const DirectiveDef* def = schema_.FindDirective(d.name);
      if (!def) {
        Report("Unknown directive \"@" + std::string(d.name) + "\".", {d.loc});
        CheckArguments(
            d.arguments, nullptr, d.loc, info, [](std::string_view) { return ""; },
            [](const InputValueDef&) { return ""; });
        continue;
      }
      if (std::find(def->locations.begin(), def->locations.end(), location) ==
          def->locations.end()) {
        Report("Directive \"@" + std::string(d.name) + "\" may not be used on " +
                   std::string(DirectiveLocationName(location)) + ".",
               {d.loc});
      }
      if (!def->repeatable) {
        for (size_t j = 0; j < i; ++j) {
          if (dirs[j].name == d.name) {
            Report("The directive \"@" + std::string(d.name) +
                       "\" can only be used once at this location.",
                   {dirs[j].loc, d.loc});
            break;
          }
        }
      }
      CheckArguments(
          d.arguments, &def->args, d.loc, info,
          [&](std::string_view a) {
            return "Unknown argument " + Quote(a) + " on directive \"@" + std::string(d.name) +
                   "\".";
          },
          [&](const InputValueDef& a) {
            return "Directive \"@" + std::string(d.name) + "\" argument " + Quote(a.name) +
                   " of type " + Quote(a.type->ToString()) +
                   " is required, but it was not provided.";
          });
    }
  }

  void CollectVariables(const ValueNode& v, FragmentInfo& info) {
    switch (v.kind) {
      case ValueNodeKind::kVariable:
        info.usages.push_back({v.text, v.loc, nullptr, false});
        break;
      case ValueNodeKind::kList:
        for (const auto& item : v.list) CollectVariables(item, info);
        break;
      case ValueNodeKind::kObject:
        for (const auto& f : v.fields) CollectVariables(f.value, info);
        break;
      default:
        break;
    }
  }

  // Values of correct type (§5.6.1) and unique input field names (§5.6.3); records variables.
  void CheckValue(const ValueNode& n, const Type* type, bool location_has_default,
                  FragmentInfo& info) {
    if (n.kind == ValueNodeKind::kVariable) {
      info.usages.push_back({n.text, n.loc, type, location_has_default});
      return;
    }
    if (type->kind == TypeKind::kNonNull) {
      if (n.kind == ValueNodeKind::kNull) {
        Report("Expected value of type " + Quote(type->ToString()) + ", found null.", {n.loc});
        return;
      }
      CheckValue(n, type->of_type, false, info);
      return;
    }
    if (n.kind == ValueNodeKind::kNull) return;
    switch (type->kind) {
      case TypeKind::kList:
        if (n.kind == ValueNodeKind::kList) {
          for (const auto& item : n.list) CheckValue(item, type->of_type, false, info);
        } else {
          CheckValue(n, type->of_type, false, info);
        }
        return;
      case TypeKind::kInputObject: {
        if (n.kind != ValueNodeKind::kObject) {
          Report(
              "Expected value of type " + Quote(type->name) + ", found " + PrintValueNode(n) + ".",
              {n.loc});
          CollectVariables(n, info);
          return;
        }
        for (size_t i = 0; i < n.fields.size(); ++i) {
          const ObjectFieldNode& f = n.fields[i];
          for (size_t j = 0; j < i; ++j) {
            if (n.fields[j].name == f.name) {
              Report("There can be only one input field named " + Quote(f.name) + ".",
                     {n.fields[j].loc, f.loc});
              break;
            }
          }
          const InputValueDef* def = type->FindInputField(f.name);
          if (!def) {
            Report("Field " + Quote(f.name) + " is not defined by type " + Quote(type->name) + ".",
                   {f.loc});
            CollectVariables(f.value, info);
            continue;
          }
          CheckValue(f.value, def->type, def->default_value.has_value(), info);
        }
        for (const auto& def : type->input_fields) {
          if (def.type->kind != TypeKind::kNonNull || def.default_value) continue;
          bool given = std::any_of(n.fields.begin(), n.fields.end(),
                                   [&](const ObjectFieldNode& f) { return f.name == def.name; });
          if (!given) {
            Report("Field " + Quote(type->name + "." + def.name) + " of required type " +
                       Quote(def.type->ToString()) + " was not provided.",
                   {n.loc});
          }
        }
        return;
      }
      default: {
        CollectVariables(n, info);
        std::string why;
        if (!CoerceLiteral(n, type, nullptr, &why)) Report(why, {n.loc});
        return;
      }
    }
  }

  // ----------------------------------------------------------- fragment cycles (§5.5.2.2)

  bool CheckFragmentCycles() {
    bool found = false;
    std::unordered_set<std::string_view> visited;
    for (const auto& f : doc_.fragments) {
      std::vector<std::string_view> path;
      std::unordered_map<std::string_view, size_t> on_path;
      found = DetectCycle(f.name, visited, path, on_path) || found;
    }
    return found;
  }

  bool DetectCycle(std::string_view name, std::unordered_set<std::string_view>& visited,
                   std::vector<std::string_view>& path,
                   std::unordered_map<std::string_view, size_t>& on_path) {
    if (!visited.insert(name).second) return false;
    bool found = false;
    on_path[name] = path.size();
    auto it = fragment_info_.find(name);
    if (it != fragment_info_.end()) {
      const FragmentNode* frag = fragments_.at(name);
      for (std::string_view spread : it->second.spreads) {
        if (!fragments_.count(spread)) continue;
        auto cycle = on_path.find(spread);
        if (cycle == on_path.end()) {
          path.push_back(spread);
          found = DetectCycle(spread, visited, path, on_path) || found;
          path.pop_back();
          continue;
        }
        std::vector<std::string_view> via(path.begin() + static_cast<long>(cycle->second),
                                          path.end());
        std::string msg = "Cannot spread fragment " + Quote(spread) + " within itself";
        for (size_t i = 0; i < via.size(); ++i) msg += (i ? ", " : " via ") + Quote(via[i]);
        Report(msg + ".", {frag->loc});
        found = true;
      }
    }
    on_path.erase(name);
    return found;
  }

  // ----------------------------------------------------------- limits

  struct Measure {
    uint32_t depth = 0;
    uint64_t cost = 0;
  };

  Measure MeasureSelections(const std::vector<SelectionNode>& sels, const Type* parent,
                            std::unordered_set<std::string_view>& aliases_seen_fragments,
                            uint32_t& aliases) {
    Measure m;
    for (const auto& s : sels) {
      Measure child;
      switch (s.kind) {
        case SelectionNode::Kind::kField: {
          if (!s.alias.empty()) ++aliases;
          const FieldDef* def = parent ? schema_.FindField(parent, s.name, true) : nullptr;
          if (s.name == "__schema" || s.name == "__type") {
            child.depth = 1;  // introspection is bounded by the schema, not by the document
            break;
          }
          Measure sub;
          if (!s.selections.empty()) {
            sub = MeasureSelections(s.selections, def ? def->type->Named() : nullptr,
                                    aliases_seen_fragments, aliases);
          }
          uint64_t mult = def ? def->list_multiplier : 1;
          child.depth = sub.depth + 1;
          child.cost =
              std::min(kCostCap, (def ? def->cost : 1) + std::min(kCostCap, mult * sub.cost));
          break;
        }
        case SelectionNode::Kind::kInlineFragment: {
          const Type* t = s.type_condition.empty() ? parent : schema_.FindType(s.type_condition);
          child = MeasureSelections(s.selections, t, aliases_seen_fragments, aliases);
          break;
        }
        case SelectionNode::Kind::kFragmentSpread: {
          auto memo = fragment_measure_.find(s.name);
          if (memo != fragment_measure_.end()) {
            child = memo->second;
            if (aliases_seen_fragments.insert(s.name).second) aliases += fragment_aliases_[s.name];
            break;
          }
          auto it = fragments_.find(s.name);
          if (it == fragments_.end()) break;
          uint32_t frag_aliases = 0;
          std::unordered_set<std::string_view> inner_seen;
          child = MeasureSelections(it->second->selections,
                                    schema_.FindType(it->second->type_condition), inner_seen,
                                    frag_aliases);
          fragment_measure_[s.name] = child;
          fragment_aliases_[s.name] = frag_aliases;
          if (aliases_seen_fragments.insert(s.name).second) aliases += frag_aliases;
          break;
        }
      }
      m.depth = std::max(m.depth, child.depth);
      m.cost = std::min(kCostCap, m.cost + child.cost);
    }
    return m;
  }

  bool CheckLimits(const OperationNode& op) {
    uint32_t aliases = 0;
    std::unordered_set<std::string_view> seen;
    Measure m = MeasureSelections(op.selections, RootType(op), seen, aliases);
    bool ok = true;
    if (m.depth > options_.max_depth) {
      Report("Query depth " + std::to_string(m.depth) + " exceeds the maximum of " +
                 std::to_string(options_.max_depth) + ".",
             {op.loc});
      ok = false;
    }
    if (aliases > options_.max_aliases) {
      Report("Query uses " + std::to_string(aliases) + " aliases, more than the maximum of " +
                 std::to_string(options_.max_aliases) + ".",
             {op.loc});
      ok = false;
    }
    if (m.cost > options_.max_cost) {
      Report("Query cost " + std::to_string(m.cost) + " exceeds the budget of " +
                 std::to_string(options_.max_cost) + ".",
             {op.loc});
      ok = false;
    }
    return ok;
  }

  // ----------------------------------------------------------- overlapping fields (§5.3.2)

  struct FieldRef {
    const SelectionNode* node;
    const Type* parent;
    const FieldDef* def;
  };
  using FieldMap = std::vector<std::pair<std::string_view, std::vector<FieldRef>>>;

  void CollectMergeFields(const Type* parent, const std::vector<SelectionNode>& sels, FieldMap& out,
                          std::unordered_set<std::string_view>& visited) {
    for (const auto& s : sels) {
      switch (s.kind) {
        case SelectionNode::Kind::kField: {
          const FieldDef* def =
              parent ? schema_.FindField(parent, s.name, options_.introspection) : nullptr;
          std::string_view key = s.ResponseKey();
          auto it = std::find_if(out.begin(), out.end(), [&](auto& p) { return p.first == key; });
          if (it == out.end()) {
            out.emplace_back(key, std::vector<FieldRef>{});
            it = out.end() - 1;
          }
          it->second.push_back({&s, parent, def});
          break;
        }
        case SelectionNode::Kind::kInlineFragment: {
          const Type* t = s.type_condition.empty() ? parent : schema_.FindType(s.type_condition);
          CollectMergeFields(t, s.selections, out, visited);
          break;
        }
        case SelectionNode::Kind::kFragmentSpread: {
          if (!visited.insert(s.name).second) break;
          auto it = fragments_.find(s.name);
          if (it == fragments_.end()) break;
          CollectMergeFields(schema_.FindType(it->second->type_condition), it->second->selections,
                             out, visited);
          break;
        }
      }
    }
  }

  std::optional<std::string> FindConflict(const FieldRef& a, const FieldRef& b, bool exclusive) {
    if (a.node == b.node) return std::nullopt;
    exclusive =
        exclusive || (a.parent != b.parent && a.parent && b.parent &&
                      a.parent->kind == TypeKind::kObject && b.parent->kind == TypeKind::kObject);
    if (!exclusive) {
      if (a.node->name != b.node->name) {
        return Quote(a.node->name) + " and " + Quote(b.node->name) + " are different fields";
      }
      if (!SameArguments(*a.node, *b.node)) return std::string("they have differing arguments");
    }
    const Type* t1 = a.def ? a.def->type : nullptr;
    const Type* t2 = b.def ? b.def->type : nullptr;
    if (t1 && t2 && TypesConflict(t1, t2)) {
      return "they return conflicting types " + Quote(t1->ToString()) + " and " +
             Quote(t2->ToString());
    }
    if (a.node->selections.empty() || b.node->selections.empty()) return std::nullopt;
    if (++merge_budget_ > kMergeBudget) {
      too_complex_ = true;  // refuse rather than spend unbounded time on a hostile document
      return std::nullopt;
    }
    FieldMap m1, m2;
    std::unordered_set<std::string_view> v1, v2;
    CollectMergeFields(t1 ? t1->Named() : nullptr, a.node->selections, m1, v1);
    CollectMergeFields(t2 ? t2->Named() : nullptr, b.node->selections, m2, v2);
    for (const auto& entry : m1) {
      std::string_view key = entry.first;
      const std::vector<FieldRef>& fields1 = entry.second;
      auto it = std::find_if(m2.begin(), m2.end(), [&](auto& p) { return p.first == key; });
      if (it == m2.end()) continue;
      for (const auto& x : fields1) {
        for (const auto& y : it->second) {
          if (auto r = FindConflict(x, y, exclusive)) {
            return "subfields " + Quote(key) + " conflict because " + *r;
          }
        }
      }
    }
    return std::nullopt;
  }

  void CheckMergeable(const Type* parent, const std::vector<SelectionNode>& sels) {
    FieldMap m;
    std::unordered_set<std::string_view> visited;
    CollectMergeFields(parent, sels, m, visited);
    for (const auto& [key, fields] : m) {
      for (size_t i = 0; i < fields.size(); ++i) {
        for (size_t j = i + 1; j < fields.size(); ++j) {
          if (auto r = FindConflict(fields[i], fields[j], false)) {
            Report("Fields " + Quote(key) + " conflict because " + *r +
                       ". Use different aliases on the fields to fetch both if this was "
                       "intentional.",
                   {fields[i].node->loc, fields[j].node->loc});
          }
        }
      }
    }
    // Every nested selection set is a selection set of its own (spec: for each selection set).
    for (const auto& s : sels) {
      if (s.selections.empty()) continue;
      const Type* t = nullptr;
      if (s.kind == SelectionNode::Kind::kField) {
        const FieldDef* def =
            parent ? schema_.FindField(parent, s.name, options_.introspection) : nullptr;
        t = def ? def->type->Named() : nullptr;
      } else {
        t = s.type_condition.empty() ? parent : schema_.FindType(s.type_condition);
      }
      CheckMergeable(t, s.selections);
    }
  }

  static constexpr uint64_t kMergeBudget = 200000;

  const Schema& schema_;
  const Document& doc_;
  const ValidationOptions& options_;
  TypeArena arena_;
  std::vector<Error> errors_;
  std::unordered_map<std::string_view, const FragmentNode*> fragments_;
  std::unordered_map<std::string_view, FragmentInfo> fragment_info_;
  std::unordered_map<std::string_view, Measure> fragment_measure_;
  std::unordered_map<std::string_view, uint32_t> fragment_aliases_;
  uint64_t merge_budget_ = 0;
  bool too_complex_ = false;
};

}  // namespace

std::vector<Error> Validate(const Schema& schema, const Document& document,
                            const ValidationOptions& options) {
  return Validator(schema, document, options).Run();
}

}  // namespace psvc::graphql
