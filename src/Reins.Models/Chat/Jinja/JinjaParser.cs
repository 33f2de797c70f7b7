using System.Globalization;

namespace Reins.Models.Chat.Jinja;

/// <summary>
/// Recursive descent over <see cref="JinjaLexer"/>'s tokens, with Jinja's own precedence (jinja2/parser.py): conditional
/// expressions, or, and, not, comparisons (chained as in Python), + and -, ~, * / // %, **, unary minus, then
/// postfix (attributes, subscripts, calls), filters and tests. Statements are the ones chat templates use: if, for,
/// set, macro, break, continue and transformers' generation; anything else is refused with its line.
/// </summary>
internal sealed class JinjaParser(List<JinjaToken> tokens)
{
    private static readonly HashSet<string> Comparisons = ["==", "!=", "<", ">", "<=", ">="];
    private int pos;

    private JinjaToken Current => tokens[pos];

    public static List<Statement> Parse(string template)
    {
        var parser = new JinjaParser(JinjaLexer.Tokenize(template));
        return parser.Body().Body;
    }

    // Statements up to the end of input (end = null) or to one of the keywords that close the enclosing block, whose
    // name is consumed (the rest of that tag is the caller's).
    private (List<Statement> Body, string? End) Body(params string[] ends)
    {
        var body = new List<Statement>();
        while (true)
        {
            var token = Current;
            switch (token.Kind)
            {
                case TokenKind.End:
                    if (ends.Length > 0) throw new JinjaException($"a block is never closed (expected {string.Join(" or ", ends.Select(e => $"'{e}'"))})", token.Line);
                    return (body, null);
                case TokenKind.Text:
                    pos++;
                    body.Add(new TextStatement(token.Value, token.Line));
                    break;
                case TokenKind.OutputStart:
                    pos++;
                    body.Add(new OutputStatement(Tuple(withCondition: true), token.Line));
                    Expect(TokenKind.OutputEnd, "'}}'");
                    break;
                case TokenKind.StatementStart:
                    pos++;
                    var keyword = Expect(TokenKind.Name, "a statement name");
                    if (ends.Contains(keyword.Value)) return (body, keyword.Value);
                    body.Add(Statement(keyword));
                    break;
                default:
                    throw new JinjaException($"unexpected '{token.Value}'", token.Line);
            }
        }
    }

    private Statement Statement(JinjaToken keyword)
    {
        int line = keyword.Line;
        switch (keyword.Value)
        {
            case "if":
                return If(line);
            case "for":
            {
                var targets = new List<string> { Expect(TokenKind.Name, "a loop variable").Value };
                while (Accept(",")) targets.Add(Expect(TokenKind.Name, "a loop variable").Value);
                ExpectName("in");
                var iterable = Tuple(withCondition: false);
                Expression? filter = AcceptName("if") ? Expression() : null;
                if (Current is { Kind: TokenKind.Name, Value: "recursive" }) throw new JinjaException("recursive loops are not supported", Current.Line);
                EndTag();
                var (body, end) = Body("else", "endfor");
                List<Statement> otherwise = [];
                if (end == "else")
                {
                    EndTag();
                    (otherwise, _) = Body("endfor");
                }
                EndTag();
                return new ForStatement(targets, iterable, filter, body, otherwise, line);
            }
            case "set":
            {
                Expression target = new NameExpression(Expect(TokenKind.Name, "a variable name").Value, line);
                if (Accept(".")) target = new AttributeExpression(target, Expect(TokenKind.Name, "an attribute name").Value, line);
                else if (Current is { Kind: TokenKind.Operator, Value: "," })
                {
                    var names = new List<Expression> { target };
                    while (Accept(",")) names.Add(new NameExpression(Expect(TokenKind.Name, "a variable name").Value, line));
                    target = new ListExpression(names, IsTuple: true, line);
                }
                if (Accept("="))
                {
                    var value = Tuple(withCondition: true);
                    EndTag();
                    return new SetStatement(target, value, null, line);
                }
                if (target is not NameExpression) throw new JinjaException("a block 'set' assigns one name", line);
                EndTag();
                var (block, _) = Body("endset");
                EndTag();
                return new SetStatement(target, null, block, line);
            }
            case "macro":
            {
                string name = Expect(TokenKind.Name, "a macro name").Value;
                Expect("(");
                var parameters = new List<(string, Expression?)>();
                while (!Accept(")"))
                {
                    if (parameters.Count > 0) Expect(",");
                    string parameter = Expect(TokenKind.Name, "a parameter name").Value;
                    parameters.Add((parameter, Accept("=") ? Expression() : null));
                }
                EndTag();
                var (body, _) = Body("endmacro");
                EndTag();
                return new MacroStatement(name, parameters, body, line);
            }
            case "break":
                EndTag();
                return new BreakStatement(line);
            case "continue":
                EndTag();
                return new ContinueStatement(line);
            case "generation":
            {
                EndTag();
                var (body, _) = Body("endgeneration");
                EndTag();
                return new GenerationStatement(body, line);
            }
            case "else" or "elif" or "endif" or "endfor" or "endset" or "endmacro" or "endgeneration":
                throw new JinjaException($"'{keyword.Value}' without the block it closes", line);
            default:
                throw new JinjaException($"the '{keyword.Value}' statement is not supported in chat templates", line);
        }
    }

    private IfStatement If(int line)
    {
        var condition = Tuple(withCondition: true);
        EndTag();
        var (then, end) = Body("elif", "else", "endif");
        List<Statement> otherwise = [];
        if (end == "elif") otherwise = [If(Current.Line)];
        else
        {
            if (end == "else")
            {
                EndTag();
                (otherwise, _) = Body("endif");
            }
            EndTag();
        }
        return new IfStatement(condition, then, otherwise, line);
    }

    private void EndTag() => Expect(TokenKind.StatementEnd, "'%}'");

    // An expression, or several separated by commas (a tuple), as {{ }}, set and for accept.
    private Expression Tuple(bool withCondition)
    {
        int line = Current.Line;
        var first = withCondition ? Expression() : Or();
        if (Current is not { Kind: TokenKind.Operator, Value: "," }) return first;
        var items = new List<Expression> { first };
        while (Accept(","))
        {
            if (AtTupleEnd()) break;
            items.Add(withCondition ? Expression() : Or());
        }
        return new ListExpression(items, IsTuple: true, line);
    }

    private bool AtTupleEnd() => Current.Kind is TokenKind.OutputEnd or TokenKind.StatementEnd || Current is { Kind: TokenKind.Operator, Value: ")" or "]" or "}" } || Current is { Kind: TokenKind.Name, Value: "if" };

    private Expression Expression()
    {
        var value = Or();
        while (AcceptName("if"))
        {
            var condition = Or();
            value = new ConditionalExpression(value, condition, AcceptName("else") ? Expression() : null, condition.Line);
        }
        return value;
    }

    private Expression Or()
    {
        var left = And();
        while (Current is { Kind: TokenKind.Name, Value: "or" }) { int line = Current.Line; pos++; left = new BinaryExpression("or", left, And(), line); }
        return left;
    }

    private Expression And()
    {
        var left = Not();
        while (Current is { Kind: TokenKind.Name, Value: "and" }) { int line = Current.Line; pos++; left = new BinaryExpression("and", left, Not(), line); }
        return left;
    }

    private Expression Not()
    {
        if (Current is not { Kind: TokenKind.Name, Value: "not" }) return Compare();
        int line = Current.Line;
        pos++;
        return new UnaryExpression("not", Not(), line);
    }

    // a < b < c means a < b and b < c, as in Python.
    private Expression Compare()
    {
        var left = Sum();
        Expression? result = null;
        while (true)
        {
            int line = Current.Line;
            string op;
            if (Current.Kind == TokenKind.Operator && Comparisons.Contains(Current.Value)) { op = Current.Value; pos++; }
            else if (AcceptName("in")) op = "in";
            else if (Current is { Kind: TokenKind.Name, Value: "not" } && tokens[pos + 1] is { Kind: TokenKind.Name, Value: "in" }) { pos += 2; op = "not in"; }
            else return result ?? left;
            var right = Sum();
            var comparison = new BinaryExpression(op, left, right, line);
            result = result is null ? comparison : new BinaryExpression("and", result, comparison, line);
            left = right;
        }
    }

    private Expression Sum() => LeftAssociative(Concat, "+", "-");
    private Expression Concat() => LeftAssociative(Product, "~");
    private Expression Product() => LeftAssociative(Power, "*", "/", "//", "%");
    private Expression Power() => LeftAssociative(() => Unary(withFilter: true), "**");

    private Expression LeftAssociative(Func<Expression> operand, params string[] operators)
    {
        var left = operand();
        while (Current.Kind == TokenKind.Operator && operators.Contains(Current.Value))
        {
            var op = Current;
            pos++;
            left = new BinaryExpression(op.Value, left, operand(), op.Line);
        }
        return left;
    }

    private Expression Unary(bool withFilter)
    {
        int line = Current.Line;
        Expression value;
        if (Accept("-")) value = new UnaryExpression("-", Unary(withFilter: false), line);
        else if (Accept("+")) value = new UnaryExpression("+", Unary(withFilter: false), line);
        else value = Primary();
        value = Postfix(value);
        return withFilter ? FiltersAndTests(value) : value;
    }

    private Expression Primary()
    {
        var token = Current;
        pos++;
        switch (token.Kind)
        {
            case TokenKind.Name:
                return token.Value switch
                {
                    "true" or "True" => new Literal(true, token.Line),
                    "false" or "False" => new Literal(false, token.Line),
                    "none" or "None" => new Literal(null, token.Line),
                    _ => new NameExpression(token.Value, token.Line),
                };
            case TokenKind.String:
                string text = token.Value;
                while (Current.Kind == TokenKind.String) text += tokens[pos++].Value; // 'a' 'b' is 'ab', as in Python
                return new Literal(text, token.Line);
            case TokenKind.Integer:
                return new Literal(long.Parse(token.Value, CultureInfo.InvariantCulture), token.Line);
            case TokenKind.Float:
                return new Literal(double.Parse(token.Value, CultureInfo.InvariantCulture), token.Line);
            case TokenKind.Operator when token.Value == "(":
                if (Accept(")")) return new ListExpression([], IsTuple: true, token.Line);
                var inner = Tuple(withCondition: true);
                Expect(")");
                return inner;
            case TokenKind.Operator when token.Value == "[":
            {
                var items = new List<Expression>();
                while (!Accept("]"))
                {
                    if (items.Count > 0) { Expect(","); if (Accept("]")) break; }
                    items.Add(Expression());
                }
                return new ListExpression(items, IsTuple: false, token.Line);
            }
            case TokenKind.Operator when token.Value == "{":
            {
                var items = new List<(Expression, Expression)>();
                while (!Accept("}"))
                {
                    if (items.Count > 0) { Expect(","); if (Accept("}")) break; }
                    var key = Expression();
                    Expect(":");
                    items.Add((key, Expression()));
                }
                return new DictExpression(items, token.Line);
            }
            default:
                throw new JinjaException(token.Kind is TokenKind.OutputEnd or TokenKind.StatementEnd or TokenKind.End ? "an expression ends too early" : $"unexpected '{token.Value}'", token.Line);
        }
    }

    private Expression Postfix(Expression value)
    {
        while (true)
        {
            int line = Current.Line;
            if (Accept("."))
            {
                var name = Current;
                pos++;
                value = name.Kind switch
                {
                    TokenKind.Name => new AttributeExpression(value, name.Value, line),
                    TokenKind.Integer => new IndexExpression(value, new Literal(long.Parse(name.Value, CultureInfo.InvariantCulture), line), line),
                    _ => throw new JinjaException($"expected an attribute name after '.', found '{name.Value}'", line),
                };
            }
            else if (Accept("[")) value = Subscript(value, line);
            else if (Accept("(")) value = new CallExpression(value, CallArguments(), line);
            else return value;
        }
    }

    private Expression Subscript(Expression target, int line)
    {
        Expression? start = null, stop = null, step = null;
        bool slice = false;
        if (Current is not { Kind: TokenKind.Operator, Value: ":" }) start = Expression();
        if (Accept(":"))
        {
            slice = true;
            if (Current is not { Kind: TokenKind.Operator, Value: ":" or "]" }) stop = Expression();
            if (Accept(":") && Current is not { Kind: TokenKind.Operator, Value: "]" }) step = Expression();
        }
        Expect("]");
        return slice ? new SliceExpression(target, start, stop, step, line) : new IndexExpression(target, start!, line);
    }

    private Arguments CallArguments()
    {
        var positional = new List<Expression>();
        var named = new List<(string, Expression)>();
        while (!Accept(")"))
        {
            if (positional.Count + named.Count > 0) { Expect(","); if (Accept(")")) break; }
            if (Current.Kind == TokenKind.Name && tokens[pos + 1] is { Kind: TokenKind.Operator, Value: "=" })
            {
                string name = Current.Value;
                pos += 2;
                named.Add((name, Expression()));
            }
            else
            {
                if (named.Count > 0) throw new JinjaException("a positional argument follows a keyword argument", Current.Line);
                if (Current is { Kind: TokenKind.Operator, Value: "*" or "**" }) throw new JinjaException("*args and **kwargs are not supported", Current.Line);
                positional.Add(Expression());
            }
        }
        return new Arguments(positional, named);
    }

    private Expression FiltersAndTests(Expression value)
    {
        while (true)
        {
            int line = Current.Line;
            if (Accept("|"))
            {
                string name = Expect(TokenKind.Name, "a filter name").Value;
                while (Accept(".")) name += "." + Expect(TokenKind.Name, "a filter name").Value;
                if (!JinjaRuntime.HasFilter(name)) throw new JinjaException($"no filter named '{name}'", line);
                value = new FilterExpression(value, name, Accept("(") ? CallArguments() : Arguments.None, line);
            }
            else if (AcceptName("is"))
            {
                bool negated = AcceptName("not");
                var nameToken = Current;
                pos++;
                string name = nameToken.Kind switch
                {
                    TokenKind.Name => nameToken.Value,
                    TokenKind.Operator when Comparisons.Contains(nameToken.Value) => nameToken.Value,
                    _ => throw new JinjaException($"expected a test name after 'is', found '{nameToken.Value}'", line),
                };
                if (!JinjaRuntime.HasTest(name)) throw new JinjaException($"no test named '{name}'", line);
                Arguments arguments = Arguments.None;
                if (Accept("(")) arguments = CallArguments();
                else if (StartsTestArgument()) arguments = new Arguments([Postfix(Primary())], []);
                value = new TestExpression(value, name, negated, arguments, line);
            }
            else if (Accept("(")) value = new CallExpression(value, CallArguments(), line);
            else return value;
        }
    }

    // `x is divisibleby 3`, `x is sameas false`: a test takes one argument without parentheses.
    private bool StartsTestArgument() => Current.Kind switch
    {
        TokenKind.Name => Current.Value is not ("else" or "or" or "and" or "is" or "if" or "in" or "not"),
        TokenKind.String or TokenKind.Integer or TokenKind.Float => true,
        TokenKind.Operator => Current.Value is "[" or "{",
        _ => false,
    };

    private JinjaToken Expect(TokenKind kind, string what)
    {
        var token = Current;
        if (token.Kind != kind) throw new JinjaException($"expected {what}, found {Describe(token)}", token.Line);
        pos++;
        return token;
    }

    private void Expect(string op)
    {
        if (!Accept(op)) throw new JinjaException($"expected '{op}', found {Describe(Current)}", Current.Line);
    }

    private void ExpectName(string name)
    {
        if (!AcceptName(name)) throw new JinjaException($"expected '{name}', found {Describe(Current)}", Current.Line);
    }

    private bool Accept(string op)
    {
        if (Current.Kind != TokenKind.Operator || Current.Value != op) return false;
        pos++;
        return true;
    }

    private bool AcceptName(string name)
    {
        if (Current.Kind != TokenKind.Name || Current.Value != name) return false;
        pos++;
        return true;
    }

    private static string Describe(JinjaToken token) => token.Kind switch
    {
        TokenKind.OutputEnd => "'}}'",
        TokenKind.StatementEnd => "'%}'",
        TokenKind.End => "the end of the template",
        TokenKind.Text => "text",
        TokenKind.String => $"the string '{token.Value}'",
        _ => $"'{token.Value}'",
    };
}
