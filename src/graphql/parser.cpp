#include "graphql/parser.h"

namespace psvc::graphql {
namespace {

// Thrown inside the recursive descent only; Parse() turns it into a result value.
struct SyntaxError {
  Error error;
};

class Parser {
 public:
  Parser(std::string_view source, const ParseOptions& options)
      : lexer_(source, options.lexer), max_nesting_(options.max_nesting) {}

  void Start() { Advance(); }

  void ParseDocument(Document& doc) {
    if (tok_.kind == TokenKind::kEof) Unexpected();
    while (tok_.kind != TokenKind::kEof) {
      if (tok_.kind == TokenKind::kBraceL) {
        doc.order.push_back(static_cast<int32_t>(doc.operations.size()));
        doc.operations.push_back(ParseOperation());
        continue;
      }
      if (tok_.kind == TokenKind::kName) {
        std::string_view kw = tok_.text;
        if (kw == "query" || kw == "mutation" || kw == "subscription") {
          doc.order.push_back(static_cast<int32_t>(doc.operations.size()));
          doc.operations.push_back(ParseOperation());
          continue;
        }
        if (kw == "fragment") {
          doc.order.push_back(~static_cast<int32_t>(doc.fragments.size()));
          doc.fragments.push_back(ParseFragment());
          continue;
        }
        if (kw == "schema" || kw == "scalar" || kw == "type" || kw == "interface" ||
            kw == "union" || kw == "enum" || kw == "input" || kw == "directive" || kw == "extend") {
          // graphql-js parses these and then rejects them in validation; we stop here.
          Fail(tok_.loc, "The \"" + std::string(kw) + "\" definition is not executable.");
        }
      }
      if (tok_.kind == TokenKind::kString || tok_.kind == TokenKind::kBlockString) {
        Fail(tok_.loc, "Type system definitions are not executable.");
      }
      Unexpected();
    }
  }

  ValueNode ParseConstValueOnly() {
    ValueNode v = ParseValue(true);
    if (tok_.kind != TokenKind::kEof) Unexpected();
    return v;
  }

  TypeNode ParseTypeOnly() {
    TypeNode t = ParseType();
    if (tok_.kind != TokenKind::kEof) Unexpected();
    return t;
  }

 private:
  [[noreturn]] void Fail(SourceLocation loc, std::string message) {
    SyntaxError e;
    e.error.message = "Syntax Error: " + std::move(message);
    e.error.locations = {loc};
    throw e;
  }

  [[noreturn]] void Unexpected() {
    if (tok_.kind == TokenKind::kName) {
      Fail(tok_.loc, "Unexpected Name \"" + std::string(tok_.text) + "\".");
    }
    Fail(tok_.loc, "Unexpected " + std::string(TokenKindName(tok_.kind)) + ".");
  }

  void Advance() {
    Error error;
    if (!lexer_.Next(tok_, error)) throw SyntaxError{std::move(error)};
  }

  bool Peek(TokenKind kind) const { return tok_.kind == kind; }

  bool Skip(TokenKind kind) {
    if (tok_.kind != kind) return false;
    Advance();
    return true;
  }

  void Expect(TokenKind kind) {
    if (tok_.kind != kind) {
      std::string found = tok_.kind == TokenKind::kName ? "Name \"" + std::string(tok_.text) + "\""
                                                        : std::string(TokenKindName(tok_.kind));
      Fail(tok_.loc, "Expected " + std::string(TokenKindName(kind)) + ", found " + found + ".");
    }
    Advance();
  }

  std::string_view ExpectName() {
    if (tok_.kind != TokenKind::kName) {
      std::string found = std::string(TokenKindName(tok_.kind));
      Fail(tok_.loc, "Expected Name, found " + found + ".");
    }
    std::string_view name = tok_.text;
    Advance();
    return name;
  }

  void ExpectKeyword(std::string_view kw) {
    if (tok_.kind != TokenKind::kName || tok_.text != kw) {
      std::string found = tok_.kind == TokenKind::kName ? "Name \"" + std::string(tok_.text) + "\""
                                                        : std::string(TokenKindName(tok_.kind));
      Fail(tok_.loc, "Expected \"" + std::string(kw) + "\", found " + found + ".");
    }
    Advance();
  }

  struct Nest {
    Parser& p;
    explicit Nest(Parser& parser) : p(parser) {
      if (++p.depth_ > p.max_nesting_) {
        p.Fail(p.tok_.loc, "Document nesting exceeds " + std::to_string(p.max_nesting_) + ".");
      }
    }
    ~Nest() { --p.depth_; }
  };

  OperationNode ParseOperation() {
    OperationNode op;
    op.loc = tok_.loc;
    if (Peek(TokenKind::kBraceL)) {
      op.selections = ParseSelectionSet();
      return op;
    }
    std::string_view kw = tok_.text;
    op.operation = kw == "query"      ? OperationType::kQuery
                   : kw == "mutation" ? OperationType::kMutation
                                      : OperationType::kSubscription;
    Advance();
    if (Peek(TokenKind::kName)) op.name = ExpectName();
    if (Peek(TokenKind::kParenL)) {
      Advance();
      do {
        op.variables.push_back(ParseVariableDefinition());
      } while (!Skip(TokenKind::kParenR));
    }
    op.directives = ParseDirectives(false);
    op.selections = ParseSelectionSet();
    return op;
  }

  VariableDefinitionNode ParseVariableDefinition() {
    VariableDefinitionNode v;
    v.loc = tok_.loc;
    Expect(TokenKind::kDollar);
    v.name = ExpectName();
    Expect(TokenKind::kColon);
    v.type = ParseType();
    if (Skip(TokenKind::kEquals)) v.default_value = ParseValue(true);
    v.directives = ParseDirectives(true);
    return v;
  }

  TypeNode ParseType() {
    Nest nest(*this);
    TypeNode t;
    t.loc = tok_.loc;
    if (Skip(TokenKind::kBracketL)) {
      t.kind = TypeNode::Kind::kList;
      t.of = std::make_unique<TypeNode>(ParseType());
      Expect(TokenKind::kBracketR);
    } else {
      t.name = ExpectName();
    }
    if (Peek(TokenKind::kBang)) {
      Advance();
      TypeNode nn;
      nn.loc = t.loc;
      nn.kind = TypeNode::Kind::kNonNull;
      nn.of = std::make_unique<TypeNode>(std::move(t));
      return nn;
    }
    return t;
  }

  std::vector<SelectionNode> ParseSelectionSet() {
    Nest nest(*this);
    Expect(TokenKind::kBraceL);
    std::vector<SelectionNode> out;
    do {
      out.push_back(ParseSelection());
    } while (!Skip(TokenKind::kBraceR));
    return out;
  }

  SelectionNode ParseSelection() {
    SelectionNode s;
    s.loc = tok_.loc;
    if (Skip(TokenKind::kSpread)) {
      if (Peek(TokenKind::kName) && tok_.text != "on") {
        s.kind = SelectionNode::Kind::kFragmentSpread;
        s.name = ExpectName();
        s.directives = ParseDirectives(false);
        return s;
      }
      s.kind = SelectionNode::Kind::kInlineFragment;
      if (Peek(TokenKind::kName) && tok_.text == "on") {
        Advance();
        s.type_condition = ExpectName();
      }
      s.directives = ParseDirectives(false);
      s.selections = ParseSelectionSet();
      return s;
    }
    s.kind = SelectionNode::Kind::kField;
    std::string_view first = ExpectName();
    if (Skip(TokenKind::kColon)) {
      s.alias = first;
      s.name = ExpectName();
    } else {
      s.name = first;
    }
    s.arguments = ParseArguments(false);
    s.directives = ParseDirectives(false);
    if (Peek(TokenKind::kBraceL)) s.selections = ParseSelectionSet();
    return s;
  }

  std::vector<ArgumentNode> ParseArguments(bool is_const) {
    std::vector<ArgumentNode> out;
    if (!Skip(TokenKind::kParenL)) return out;
    do {
      ArgumentNode a;
      a.loc = tok_.loc;
      a.name = ExpectName();
      Expect(TokenKind::kColon);
      a.value = ParseValue(is_const);
      out.push_back(std::move(a));
    } while (!Skip(TokenKind::kParenR));
    return out;
  }

  std::vector<DirectiveNode> ParseDirectives(bool is_const) {
    std::vector<DirectiveNode> out;
    while (Peek(TokenKind::kAt)) {
      DirectiveNode d;
      d.loc = tok_.loc;
      Advance();
      d.name = ExpectName();
      d.arguments = ParseArguments(is_const);
      out.push_back(std::move(d));
    }
    return out;
  }

  FragmentNode ParseFragment() {
    FragmentNode f;
    f.loc = tok_.loc;
    Advance();  // "fragment"
    if (Peek(TokenKind::kName) && tok_.text == "on") Unexpected();
    f.name = ExpectName();
    ExpectKeyword("on");
    f.type_condition_loc = tok_.loc;
    f.type_condition = ExpectName();
    f.directives = ParseDirectives(false);
    f.selections = ParseSelectionSet();
    return f;
  }

  ValueNode ParseValue(bool is_const) {
    Nest nest(*this);
    ValueNode v;
    v.loc = tok_.loc;
    switch (tok_.kind) {
      case TokenKind::kBracketL:
        Advance();
        v.kind = ValueNodeKind::kList;
        while (!Skip(TokenKind::kBracketR)) v.list.push_back(ParseValue(is_const));
        return v;
      case TokenKind::kBraceL:
        Advance();
        v.kind = ValueNodeKind::kObject;
        while (!Skip(TokenKind::kBraceR)) {
          ObjectFieldNode f;
          f.loc = tok_.loc;
          f.name = ExpectName();
          Expect(TokenKind::kColon);
          f.value = ParseValue(is_const);
          v.fields.push_back(std::move(f));
        }
        return v;
      case TokenKind::kInt:
        v.kind = ValueNodeKind::kInt;
        v.text = tok_.text;
        Advance();
        return v;
      case TokenKind::kFloat:
        v.kind = ValueNodeKind::kFloat;
        v.text = tok_.text;
        Advance();
        return v;
      case TokenKind::kString:
      case TokenKind::kBlockString:
        v.kind = ValueNodeKind::kString;
        v.block = tok_.kind == TokenKind::kBlockString;
        v.string = std::move(tok_.value);
        Advance();
        return v;
      case TokenKind::kName:
        if (tok_.text == "true" || tok_.text == "false") {
          v.kind = ValueNodeKind::kBoolean;
          v.boolean = tok_.text == "true";
        } else if (tok_.text == "null") {
          v.kind = ValueNodeKind::kNull;
        } else {
          v.kind = ValueNodeKind::kEnum;
          v.text = tok_.text;
        }
        Advance();
        return v;
      case TokenKind::kDollar:
        if (!is_const) {
          Advance();
          if (tok_.kind != TokenKind::kName) {
            Fail(tok_.loc, "Expected Name, found " + std::string(TokenKindName(tok_.kind)) + ".");
          }
          v.kind = ValueNodeKind::kVariable;
          v.text = tok_.text;
          Advance();
          return v;
        }
        {
          SourceLocation at = tok_.loc;
          Fail(at, "Unexpected variable \"$" + std::string(PeekAfterDollar()) +
                       "\" in constant value.");
        }
      default:
        Unexpected();
    }
  }

  std::string_view PeekAfterDollar() {
    Advance();
    return tok_.kind == TokenKind::kName ? tok_.text : std::string_view{};
  }

  Lexer lexer_;
  Token tok_;
  uint32_t max_nesting_;
  uint32_t depth_ = 0;
};

}  // namespace

ParseResult Parse(std::string_view source, const ParseOptions& options) {
  ParseResult result;
  auto doc = std::make_unique<Document>();
  doc->source = std::make_unique<const std::string>(source);
  try {
    Parser parser(*doc->source, options);
    parser.Start();
    parser.ParseDocument(*doc);
  } catch (SyntaxError& e) {
    result.error = std::move(e.error);
    return result;
  }
  result.document = std::move(doc);
  return result;
}

std::optional<OwnedValue> ParseConstValue(std::string_view text, Error* error) {
  OwnedValue out;
  out.source = std::make_unique<const std::string>(text);
  try {
    Parser parser(*out.source, ParseOptions{});
    parser.Start();
    out.node = parser.ParseConstValueOnly();
  } catch (SyntaxError& e) {
    if (error) *error = std::move(e.error);
    return std::nullopt;
  }
  return out;
}

std::optional<OwnedType> ParseTypeReference(std::string_view text, Error* error) {
  OwnedType out;
  out.source = std::make_unique<const std::string>(text);
  try {
    Parser parser(*out.source, ParseOptions{});
    parser.Start();
    out.node = parser.ParseTypeOnly();
  } catch (SyntaxError& e) {
    if (error) *error = std::move(e.error);
    return std::nullopt;
  }
  return out;
}

}  // namespace psvc::graphql
