using System.Globalization;
using System.Text;
using static Reins.Models.Chat.Jinja.JinjaValues;

namespace Reins.Models.Chat.Jinja;

/// <summary>
/// Runs a parsed template with Jinja's semantics (Python's values, truth, arithmetic and scoping: a loop body gets its
/// own scope for each iteration, an if does not), the builtin filters, tests and string/dict/list methods chat
/// templates call, and transformers' globals raise_exception and strftime_now. Output inside {% generation %} is
/// recorded as spans.
/// </summary>
internal sealed class JinjaRuntime(Func<DateTime> clock)
{
    private enum Flow { Normal, Break, Continue }

    private sealed class Scope(Scope? parent)
    {
        private readonly Dictionary<string, object?> values = [];
        public Scope? Parent { get; } = parent;
        public void Set(string name, object? value) => values[name] = value;
        public bool TryGet(string name, out object? value)
        {
            for (var s = this; s is not null; s = s.Parent)
                if (s.values.TryGetValue(name, out value)) return true;
            value = null;
            return false;
        }
    }

    private StringBuilder output = new();
    private bool capturing;
    private readonly List<(int Start, int End)> generation = [];

    public (string Text, List<(int Start, int End)> Generation) Render(List<Statement> program, IReadOnlyDictionary<string, object?> variables)
    {
        var globals = new Scope(null);
        globals.Set("range", new Callable("range", (a, _) => Range(a)));
        globals.Set("namespace", new Callable("namespace", (a, k) => new Namespace(new OrderedDictionary<string, object?>(k))));
        globals.Set("dict", new Callable("dict", (a, k) => new OrderedDictionary<string, object?>(k)));
        globals.Set("strftime_now", new Callable("strftime_now", (a, _) => Strftime(clock(), Str(a[0]))));
        var scope = new Scope(globals);
        foreach (var (name, value) in variables) scope.Set(name, value);
        Execute(program, scope);
        return (output.ToString(), generation);
    }

    private Flow Execute(List<Statement> body, Scope scope)
    {
        foreach (var statement in body)
        {
            var flow = Execute(statement, scope);
            if (flow != Flow.Normal) return flow;
        }
        return Flow.Normal;
    }

    private Flow Execute(Statement statement, Scope scope)
    {
        switch (statement)
        {
            case TextStatement text:
                output.Append(text.Text);
                return Flow.Normal;
            case OutputStatement o:
                output.Append(Str(Evaluate(o.Value, scope)));
                return Flow.Normal;
            case IfStatement i:
                return Execute(IsTrue(Evaluate(i.Condition, scope)) ? i.Then : i.Else, scope);
            case ForStatement f:
                return For(f, scope);
            case SetStatement s:
                Assign(s, s.Value is { } value ? Evaluate(value, scope) : Capture(s.Body!, scope), scope);
                return Flow.Normal;
            case MacroStatement m:
                scope.Set(m.Name, Macro(m, scope));
                return Flow.Normal;
            case BreakStatement:
                return Flow.Break;
            case ContinueStatement:
                return Flow.Continue;
            case GenerationStatement g:
                int start = output.Length;
                var flow = Execute(g.Body, scope);
                if (!capturing && output.Length > start) generation.Add((start, output.Length));
                return flow;
            default:
                throw new JinjaException($"cannot run {statement.GetType().Name}", statement.Line);
        }
    }

    private string Capture(List<Statement> body, Scope scope)
    {
        var (saved, savedCapturing) = (output, capturing);
        (output, capturing) = (new StringBuilder(), true);
        try
        {
            Execute(body, scope);
            return output.ToString();
        }
        finally
        {
            (output, capturing) = (saved, savedCapturing);
        }
    }

    private void Assign(SetStatement s, object? value, Scope scope)
    {
        switch (s.Target)
        {
            case NameExpression name:
                scope.Set(name.Name, value);
                break;
            case AttributeExpression { Target: NameExpression owner } attribute:
                if (Lookup(owner, scope) is not Namespace ns) throw new JinjaException($"only a namespace's attributes can be set ('{owner.Name}' is not one)", s.Line);
                ns.Values[attribute.Name] = value;
                break;
            case ListExpression names:
                var values = Iterate(value, s.Line).ToList();
                if (values.Count != names.Items.Count) throw new JinjaException($"cannot unpack {values.Count} values into {names.Items.Count} names", s.Line);
                for (int i = 0; i < values.Count; i++) scope.Set(((NameExpression)names.Items[i]).Name, values[i]);
                break;
            default:
                throw new JinjaException("cannot assign to this expression", s.Line);
        }
    }

    private Flow For(ForStatement f, Scope scope)
    {
        var items = new List<object?>();
        foreach (var item in Iterate(Evaluate(f.Iterable, scope), f.Line))
        {
            if (f.Filter is null) { items.Add(item); continue; }
            var filterScope = new Scope(scope);
            Bind(f, filterScope, item);
            if (IsTrue(Evaluate(f.Filter, filterScope))) items.Add(item);
        }
        if (items.Count == 0) return Execute(f.Else, scope);
        for (int i = 0; i < items.Count; i++)
        {
            int index = i;
            var loopScope = new Scope(scope); // as jinja2: what one iteration sets, the next does not see
            Bind(f, loopScope, items[i]);
            loopScope.Set("loop", new OrderedDictionary<string, object?>
            {
                ["index"] = (long)i + 1, ["index0"] = (long)i, ["revindex"] = (long)(items.Count - i), ["revindex0"] = (long)(items.Count - i - 1),
                ["first"] = i == 0, ["last"] = i == items.Count - 1, ["length"] = (long)items.Count, ["depth"] = 1L, ["depth0"] = 0L,
                ["previtem"] = i > 0 ? items[i - 1] : new Undefined("loop.previtem"),
                ["nextitem"] = i < items.Count - 1 ? items[i + 1] : new Undefined("loop.nextitem"),
                ["cycle"] = new Callable("loop.cycle", (a, _) => a.Count == 0 ? throw new JinjaException("loop.cycle needs values", f.Line) : a[index % a.Count]),
            });
            if (Execute(f.Body, loopScope) == Flow.Break) break;
        }
        return Flow.Normal;
    }

    private void Bind(ForStatement f, Scope scope, object? item)
    {
        if (f.Targets.Count == 1) { scope.Set(f.Targets[0], item); return; }
        var values = Iterate(item, f.Line).ToList();
        if (values.Count != f.Targets.Count) throw new JinjaException($"cannot unpack {values.Count} values into {f.Targets.Count} loop variables", f.Line);
        for (int i = 0; i < values.Count; i++) scope.Set(f.Targets[i], values[i]);
    }

    private Callable Macro(MacroStatement m, Scope definition) => new(m.Name, (args, kwargs) =>
    {
        if (args.Count > m.Parameters.Count) throw new JinjaException($"macro '{m.Name}' takes {m.Parameters.Count} arguments, got {args.Count}", m.Line);
        var scope = new Scope(definition);
        for (int i = 0; i < m.Parameters.Count; i++)
        {
            var (name, fallback) = m.Parameters[i];
            object? value = i < args.Count ? args[i]
                : kwargs.TryGetValue(name, out var named) ? named
                : fallback is not null ? Evaluate(fallback, definition) : new Undefined(name);
            scope.Set(name, value);
        }
        foreach (var name in kwargs.Keys)
            if (!m.Parameters.Any(p => p.Name == name)) throw new JinjaException($"macro '{m.Name}' has no parameter '{name}'", m.Line);
        return Capture(m.Body, scope);
    });

    private object? Lookup(NameExpression name, Scope scope) => scope.TryGet(name.Name, out var value) ? value
        : name.Name == "raise_exception" ? new Callable("raise_exception", (a, _) => throw new JinjaException($"the template raised: {(a.Count > 0 ? Str(a[0]) : "")}", name.Line))
        : new Undefined(name.Name);

    private object? Evaluate(Expression expression, Scope scope)
    {
        switch (expression)
        {
            case Literal l:
                return l.Value;
            case NameExpression n:
                return Lookup(n, scope);
            case ListExpression list:
                var values = list.Items.Select(i => Evaluate(i, scope));
                return list.IsTuple ? new PythonTuple(values) : values.ToList();
            case DictExpression dict:
                var result = new OrderedDictionary<string, object?>();
                foreach (var (k, v) in dict.Items)
                    result[Evaluate(k, scope) is string key ? key : throw new JinjaException("dictionary keys must be strings here", k.Line)] = Evaluate(v, scope);
                return result;
            case AttributeExpression a:
                return Attribute(Evaluate(a.Target, scope), a.Name, a.Line);
            case IndexExpression i:
                return Index(Evaluate(i.Target, scope), Evaluate(i.Index, scope), i.Line);
            case SliceExpression s:
                return Slice(Evaluate(s.Target, scope), s.Start is null ? null : Evaluate(s.Start, scope), s.Stop is null ? null : Evaluate(s.Stop, scope), s.Step is null ? null : Evaluate(s.Step, scope), s.Line);
            case CallExpression c:
            {
                var callee = Evaluate(c.Callee, scope);
                if (callee is not Callable callable) throw new JinjaException($"{Describe(c.Callee)} is {(callee is Undefined ? "undefined" : $"a {TypeName(callee)}")}, not something to call", c.Line);
                var (args, kwargs) = EvaluateArguments(c.Arguments, scope);
                try { return callable.Invoke(args, kwargs); }
                catch (JinjaException) { throw; }
                catch (Exception e) when (e is ArgumentException or InvalidCastException or IndexOutOfRangeException or ArgumentOutOfRangeException or FormatException or OverflowException)
                {
                    throw new JinjaException($"{callable.Name}(): bad arguments ({e.Message})", c.Line);
                }
            }
            case FilterExpression f:
            {
                var value = Evaluate(f.Value, scope);
                var (args, kwargs) = EvaluateArguments(f.Arguments, scope);
                return JinjaFilters.Apply(f.Name, value, args, kwargs, f.Line, this);
            }
            case TestExpression t:
            {
                var value = Evaluate(t.Value, scope);
                var (args, _) = EvaluateArguments(t.Arguments, scope);
                return JinjaFilters.Test(t.Name, value, args, t.Line) != t.Negated;
            }
            case UnaryExpression u:
            {
                var operand = Evaluate(u.Operand, scope);
                return u.Operator switch
                {
                    "not" => !IsTrue(operand),
                    "-" => operand switch { long l => (object)-l, double d => -d, bool b => b ? -1L : 0L, _ => throw Unsupported("-", operand, u.Line) },
                    _ => IsNumber(operand) ? operand is bool b ? (b ? 1L : 0L) : operand : throw Unsupported("+", operand, u.Line),
                };
            }
            case BinaryExpression b:
                if (b.Operator == "and") { var left = Evaluate(b.Left, scope); return IsTrue(left) ? Evaluate(b.Right, scope) : left; }
                if (b.Operator == "or") { var left = Evaluate(b.Left, scope); return IsTrue(left) ? left : Evaluate(b.Right, scope); }
                return Binary(b.Operator, Evaluate(b.Left, scope), Evaluate(b.Right, scope), b.Line);
            case ConditionalExpression c:
                return IsTrue(Evaluate(c.Condition, scope)) ? Evaluate(c.Then, scope) : c.Else is null ? new Undefined("else") : Evaluate(c.Else, scope);
            default:
                throw new JinjaException($"cannot evaluate {expression.GetType().Name}", expression.Line);
        }
    }

    private static string Describe(Expression e) => e switch
    {
        NameExpression n => $"'{n.Name}'",
        AttributeExpression a => $"'{a.Name}'",
        _ => "the value",
    };

    private (List<object?>, Dictionary<string, object?>) EvaluateArguments(Arguments arguments, Scope scope) =>
        (arguments.Positional.Select(a => Evaluate(a, scope)).ToList(), arguments.Named.ToDictionary(n => n.Name, n => Evaluate(n.Value, scope)));

    /// <summary>Calls a value (a macro passed to map, say) from a filter.</summary>
    public static object? Call(object? callee, List<object?> args, int line) =>
        callee is Callable c ? c.Invoke(args, []) : throw new JinjaException($"a {TypeName(callee)} is not callable", line);

    public static JinjaException Unsupported(string op, object? value, int line) =>
        value is Undefined u ? new JinjaException($"'{u.Name}' is undefined", line) : new JinjaException($"bad operand type for {op}: '{TypeName(value)}'", line);

    private static JinjaException Unsupported(string op, object? left, object? right, int line) =>
        left is Undefined u ? new JinjaException($"'{u.Name}' is undefined", line)
        : right is Undefined v ? new JinjaException($"'{v.Name}' is undefined", line)
        : new JinjaException($"unsupported operand types for {op}: '{TypeName(left)}' and '{TypeName(right)}'", line);

    public static object? Binary(string op, object? left, object? right, int line)
    {
        switch (op)
        {
            case "==": return JinjaEquals(left, right);
            case "!=": return !JinjaEquals(left, right);
            case "~": return Str(left) + Str(right);
            case "in": return Contains(right, left, line);
            case "not in": return !Contains(right, left, line);
            case "<" or ">" or "<=" or ">=":
            {
                int c = Compare(left, right, line, op);
                return op switch { "<" => c < 0, ">" => c > 0, "<=" => c <= 0, _ => c >= 0 };
            }
        }
        if (IsNumber(left) && IsNumber(right))
        {
            bool integers = left is long or bool && right is long or bool;
            double a = ToDouble(left), b = ToDouble(right);
            long x = integers ? (long)a : 0, y = integers ? (long)b : 0;
            switch (op)
            {
                case "+": return integers ? (object)(x + y) : a + b;
                case "-": return integers ? (object)(x - y) : a - b;
                case "*": return integers ? (object)(x * y) : a * b;
                case "/": return b == 0 ? throw new JinjaException("division by zero", line) : a / b;
                case "//":
                    if (b == 0) throw new JinjaException("division by zero", line);
                    if (!integers) return Math.Floor(a / b);
                    return (object)(x / y - (x % y != 0 && (x < 0) != (y < 0) ? 1 : 0)); // Python floors, C# truncates
                case "%":
                    if (b == 0) throw new JinjaException("modulo by zero", line);
                    if (integers) { long m = x % y; return (object)(m != 0 && (m < 0) != (y < 0) ? m + y : m); }
                    double md = a % b;
                    return md != 0 && (md < 0) != (b < 0) ? md + b : md;
                case "**": return integers && y >= 0 ? (object)checked((long)Math.Pow(x, y)) : Math.Pow(a, b);
            }
        }
        switch (op, left, right)
        {
            case ("+", string a, string b): return a + b;
            case ("+", List<object?> a, List<object?> b): return a.Concat(b).ToList();
            case ("*", string s, long n): return string.Concat(Enumerable.Repeat(s, (int)Math.Max(0, n)));
            case ("*", long n, string s): return string.Concat(Enumerable.Repeat(s, (int)Math.Max(0, n)));
            case ("*", List<object?> l, long n): return Enumerable.Repeat(l, (int)Math.Max(0, n)).SelectMany(x => x).ToList();
        }
        throw Unsupported(op, left, right, line);
    }

    public static bool JinjaEquals(object? a, object? b)
    {
        if (IsNumber(a) && IsNumber(b)) return ToDouble(a) == ToDouble(b);
        return (a, b) switch
        {
            (null, null) => true,
            (Undefined, Undefined) => true,
            (string x, string y) => x == y,
            (List<object?> x, List<object?> y) => x.Count == y.Count && x.Zip(y).All(p => JinjaEquals(p.First, p.Second)),
            (OrderedDictionary<string, object?> x, OrderedDictionary<string, object?> y) =>
                x.Count == y.Count && x.All(p => y.TryGetValue(p.Key, out var v) && JinjaEquals(p.Value, v)),
            _ => ReferenceEquals(a, b),
        };
    }

    public static int Compare(object? a, object? b, int line, string op = "<")
    {
        if (IsNumber(a) && IsNumber(b)) return ToDouble(a).CompareTo(ToDouble(b));
        if (a is string x && b is string y) return string.CompareOrdinal(x, y);
        if (a is List<object?> l && b is List<object?> m)
        {
            for (int i = 0; i < Math.Min(l.Count, m.Count); i++)
                if (!JinjaEquals(l[i], m[i])) return Compare(l[i], m[i], line, op);
            return l.Count.CompareTo(m.Count);
        }
        throw new JinjaException(a is Undefined u ? $"'{u.Name}' is undefined" : b is Undefined v ? $"'{v.Name}' is undefined"
            : $"'{op}' is not supported between '{TypeName(a)}' and '{TypeName(b)}'", line);
    }

    private static bool Contains(object? container, object? item, int line) => container switch
    {
        string s when item is string t => s.Contains(t, StringComparison.Ordinal),
        string => throw new JinjaException($"'in <string>' requires a string on the left, not '{TypeName(item)}'", line),
        List<object?> list => list.Any(x => JinjaEquals(x, item)),
        OrderedDictionary<string, object?> dict => item is string key && dict.ContainsKey(key),
        Namespace ns => item is string key && ns.Values.ContainsKey(key),
        _ => throw Unsupported("in", container, line),
    };

    public static IEnumerable<object?> Iterate(object? value, int line) => value switch
    {
        List<object?> list => list,
        OrderedDictionary<string, object?> dict => dict.Keys.Cast<object?>(),
        string s => StringElements(s),
        Undefined => [],
        _ => throw new JinjaException($"a '{TypeName(value)}' is not iterable", line),
    };

    // A Python string iterates by code point, so an emoji stays one element.
    public static IEnumerable<object?> StringElements(string s)
    {
        for (int i = 0; i < s.Length; i += char.IsSurrogatePair(s, i) ? 2 : 1)
            yield return char.IsSurrogatePair(s, i) ? s.Substring(i, 2) : s[i].ToString();
    }

    private static List<object?> Range(List<object?> a)
    {
        long start = 0, stop, step = 1;
        if (a.Count == 1) stop = (long)a[0]!;
        else { start = (long)a[0]!; stop = (long)a[1]!; if (a.Count > 2) step = (long)a[2]!; }
        if (step == 0) throw new ArgumentException("range() step must not be zero");
        var result = new List<object?>();
        for (long i = start; step > 0 ? i < stop : i > stop; i += step)
        {
            result.Add(i);
            if (result.Count > 1_000_000) throw new ArgumentException("range() longer than a million");
        }
        return result;
    }

    // Jinja's getattr: a Python attribute (a method) first, then the item of that name.
    private object? Attribute(object? target, string name, int line)
    {
        if (JinjaFilters.Method(target, name, line) is { } method) return method;
        return target switch
        {
            OrderedDictionary<string, object?> dict => dict.TryGetValue(name, out var v) ? v : new Undefined(name),
            Namespace ns => ns.Values.TryGetValue(name, out var v) ? v : new Undefined(name),
            Undefined u => throw new JinjaException($"'{u.Name}' is undefined (reading .{name})", line),
            _ => new Undefined(name),
        };
    }

    // Jinja's getitem: the item first, then the attribute.
    private object? Index(object? target, object? index, int line)
    {
        switch (target, index)
        {
            case (List<object?> list, long i):
                long at = i < 0 ? i + list.Count : i;
                return at >= 0 && at < list.Count ? list[(int)at] : new Undefined($"[{i}]");
            case (string s, long i):
                var chars = StringElements(s).ToList();
                long c = i < 0 ? i + chars.Count : i;
                return c >= 0 && c < chars.Count ? chars[(int)c] : new Undefined($"[{i}]");
            case (OrderedDictionary<string, object?> dict, string key):
                return dict.TryGetValue(key, out var v) ? v : Attribute(target, key, line);
            case (Namespace ns, string key):
                return ns.Values.TryGetValue(key, out var w) ? w : new Undefined(key);
            case (Undefined u, _):
                throw new JinjaException($"'{u.Name}' is undefined (indexing it)", line);
            case (_, string key):
                return Attribute(target, key, line);
            default:
                return new Undefined($"[{Str(index)}]");
        }
    }

    private static object? Slice(object? target, object? start, object? stop, object? step, int line)
    {
        List<object?> items = target switch
        {
            List<object?> list => list,
            string s => StringElements(s).ToList(),
            _ => throw new JinjaException($"a '{TypeName(target)}' cannot be sliced", line),
        };
        long n = items.Count;
        long by = step is null ? 1 : step as long? ?? throw new JinjaException("slice bounds must be integers", line);
        if (by == 0) throw new JinjaException("slice step cannot be zero", line);
        long Bound(object? value, long fallback)
        {
            if (value is null) return fallback;
            long v = value as long? ?? throw new JinjaException("slice bounds must be integers", line);
            if (v < 0) v += n;
            return by > 0 ? Math.Clamp(v, 0, n) : Math.Clamp(v, -1, n - 1);
        }
        long from = Bound(start, by > 0 ? 0 : n - 1), to = Bound(stop, by > 0 ? n : -1);
        var result = new List<object?>();
        for (long i = from; by > 0 ? i < to : i > to; i += by) result.Add(items[(int)i]);
        return target is string ? string.Concat(result.Cast<string>()) : result;
    }

    // The strftime directives chat templates use (Llama 3.x: "%d %b %Y"), in English as Python's C locale.
    private static string Strftime(DateTime now, string format)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < format.Length; i++)
        {
            if (format[i] != '%' || i + 1 == format.Length) { sb.Append(format[i]); continue; }
            char d = format[++i];
            sb.Append(d switch
            {
                'd' => now.ToString("dd", CultureInfo.InvariantCulture),
                'm' => now.ToString("MM", CultureInfo.InvariantCulture),
                'Y' => now.ToString("yyyy", CultureInfo.InvariantCulture),
                'y' => now.ToString("yy", CultureInfo.InvariantCulture),
                'b' => now.ToString("MMM", CultureInfo.InvariantCulture),
                'B' => now.ToString("MMMM", CultureInfo.InvariantCulture),
                'a' => now.ToString("ddd", CultureInfo.InvariantCulture),
                'A' => now.ToString("dddd", CultureInfo.InvariantCulture),
                'H' => now.ToString("HH", CultureInfo.InvariantCulture),
                'M' => now.ToString("mm", CultureInfo.InvariantCulture),
                'S' => now.ToString("ss", CultureInfo.InvariantCulture),
                'j' => now.DayOfYear.ToString("000", CultureInfo.InvariantCulture),
                '%' => "%",
                _ => throw new ArgumentException($"strftime directive %{d} is not supported"),
            });
        }
        return sb.ToString();
    }

    public static bool HasFilter(string name) => JinjaFilters.FilterNames.Contains(name);
    public static bool HasTest(string name) => JinjaFilters.TestNames.Contains(name);
}
