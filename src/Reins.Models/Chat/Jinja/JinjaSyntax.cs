namespace Reins.Models.Chat.Jinja;

// The template's syntax tree. Every node keeps its template line for error messages.

internal abstract record Statement(int Line);
internal sealed record TextStatement(string Text, int Line) : Statement(Line);
internal sealed record OutputStatement(Expression Value, int Line) : Statement(Line);
internal sealed record IfStatement(Expression Condition, List<Statement> Then, List<Statement> Else, int Line) : Statement(Line);
internal sealed record ForStatement(List<string> Targets, Expression Iterable, Expression? Filter, List<Statement> Body, List<Statement> Else, int Line) : Statement(Line);
/// <summary>{% set target = value %}, or the block form {% set target %}body{% endset %} when Value is null.</summary>
internal sealed record SetStatement(Expression Target, Expression? Value, List<Statement>? Body, int Line) : Statement(Line);
internal sealed record MacroStatement(string Name, List<(string Name, Expression? Default)> Parameters, List<Statement> Body, int Line) : Statement(Line);
internal sealed record BreakStatement(int Line) : Statement(Line);
internal sealed record ContinueStatement(int Line) : Statement(Line);
/// <summary>transformers' {% generation %} block: what it renders is the assistant's own output.</summary>
internal sealed record GenerationStatement(List<Statement> Body, int Line) : Statement(Line);

internal abstract record Expression(int Line);
internal sealed record Literal(object? Value, int Line) : Expression(Line);
internal sealed record ListExpression(List<Expression> Items, bool IsTuple, int Line) : Expression(Line);
internal sealed record DictExpression(List<(Expression Key, Expression Value)> Items, int Line) : Expression(Line);
internal sealed record NameExpression(string Name, int Line) : Expression(Line);
internal sealed record AttributeExpression(Expression Target, string Name, int Line) : Expression(Line);
internal sealed record IndexExpression(Expression Target, Expression Index, int Line) : Expression(Line);
internal sealed record SliceExpression(Expression Target, Expression? Start, Expression? Stop, Expression? Step, int Line) : Expression(Line);
internal sealed record Arguments(List<Expression> Positional, List<(string Name, Expression Value)> Named)
{
    public static readonly Arguments None = new([], []);
}
internal sealed record CallExpression(Expression Callee, Arguments Arguments, int Line) : Expression(Line);
internal sealed record FilterExpression(Expression Value, string Name, Arguments Arguments, int Line) : Expression(Line);
internal sealed record TestExpression(Expression Value, string Name, bool Negated, Arguments Arguments, int Line) : Expression(Line);
internal sealed record UnaryExpression(string Operator, Expression Operand, int Line) : Expression(Line);
internal sealed record BinaryExpression(string Operator, Expression Left, Expression Right, int Line) : Expression(Line);
internal sealed record ConditionalExpression(Expression Then, Expression Condition, Expression? Else, int Line) : Expression(Line);
