using System.Globalization;
using System.Text;

namespace Reins.Models.Chat.Jinja;

/// <summary>A name the template reads but nobody defined: prints as nothing, fails in arithmetic (Jinja's Undefined).</summary>
internal sealed class Undefined(string name)
{
    public string Name { get; } = name;
}

/// <summary>The object namespace() makes: the one thing a {% set %} inside a loop can change outside it.</summary>
internal sealed class Namespace(OrderedDictionary<string, object?> values)
{
    public OrderedDictionary<string, object?> Values { get; } = values;
}

/// <summary>A Python tuple: a list that prints in parentheses (dict items, dictsort's pairs, (a, b) literals).</summary>
internal sealed class PythonTuple(IEnumerable<object?> items) : List<object?>(items);

/// <summary>A global, a macro or a bound method: positional and keyword arguments in, a value out.</summary>
internal sealed record Callable(string Name, Func<List<object?>, Dictionary<string, object?>, object?> Invoke);

/// <summary>
/// Python's view of the values a template computes with: None is null, int is long, float is double, list is
/// List&lt;object?&gt;, dict is an ordered string-keyed dictionary. Conversions to text follow Python's str() and repr(),
/// as Jinja prints them.
/// </summary>
internal static class JinjaValues
{
    public static object? FromJson(System.Text.Json.JsonElement element) => element.ValueKind switch
    {
        System.Text.Json.JsonValueKind.Object => new OrderedDictionary<string, object?>(element.EnumerateObject().Select(p => KeyValuePair.Create(p.Name, FromJson(p.Value)))),
        System.Text.Json.JsonValueKind.Array => element.EnumerateArray().Select(FromJson).ToList(),
        System.Text.Json.JsonValueKind.String => element.GetString(),
        System.Text.Json.JsonValueKind.Number => element.GetRawText().AsSpan().IndexOfAny(".eE") < 0 && element.TryGetInt64(out long l) ? (object)l : element.GetDouble(),
        System.Text.Json.JsonValueKind.True => true,
        System.Text.Json.JsonValueKind.False => false,
        _ => null,
    };

    public static bool IsTrue(object? value) => value switch
    {
        null or Undefined => false,
        bool b => b,
        long l => l != 0,
        double d => d != 0,
        string s => s.Length > 0,
        List<object?> list => list.Count > 0,
        OrderedDictionary<string, object?> dict => dict.Count > 0,
        _ => true,
    };

    public static bool IsNumber(object? value) => value is long or double or bool;

    public static double ToDouble(object? value) => value switch
    {
        long l => l,
        double d => d,
        bool b => b ? 1 : 0,
        _ => throw new InvalidCastException(),
    };

    public static string TypeName(object? value) => value switch
    {
        null => "NoneType",
        Undefined => "Undefined",
        bool => "bool",
        long => "int",
        double => "float",
        string => "str",
        List<object?> => "list",
        OrderedDictionary<string, object?> => "dict",
        Namespace => "Namespace",
        Callable => "function",
        _ => value.GetType().Name,
    };

    /// <summary>What {{ value }} prints: Python's str().</summary>
    public static string Str(object? value) => value switch
    {
        string s => s,
        Undefined => "",
        _ => Repr(value),
    };

    /// <summary>Python's repr(): how values print inside lists and dicts.</summary>
    public static string Repr(object? value)
    {
        var sb = new StringBuilder();
        AppendRepr(sb, value);
        return sb.ToString();
    }

    private static void AppendRepr(StringBuilder sb, object? value)
    {
        switch (value)
        {
            case null: sb.Append("None"); break;
            case Undefined: break;
            case bool b: sb.Append(b ? "True" : "False"); break;
            case long l: sb.Append(l.ToString(CultureInfo.InvariantCulture)); break;
            case double d: sb.Append(FloatRepr(d)); break;
            case string s: AppendStringRepr(sb, s); break;
            case List<object?> list:
                bool tuple = list is PythonTuple;
                sb.Append(tuple ? '(' : '[');
                for (int i = 0; i < list.Count; i++) { if (i > 0) sb.Append(", "); AppendRepr(sb, list[i]); }
                sb.Append(tuple ? (list.Count == 1 ? ",)" : ")") : "]");
                break;
            case OrderedDictionary<string, object?> dict:
                sb.Append('{');
                int n = 0;
                foreach (var (k, v) in dict) { if (n++ > 0) sb.Append(", "); AppendStringRepr(sb, k); sb.Append(": "); AppendRepr(sb, v); }
                sb.Append('}');
                break;
            case Namespace ns: sb.Append("<Namespace "); AppendRepr(sb, ns.Values); sb.Append('>'); break;
            case Callable c: sb.Append($"<function {c.Name}>"); break;
            default: sb.Append(value); break;
        }
    }

    // Python quotes with ' unless the text has a ' and no ".
    private static void AppendStringRepr(StringBuilder sb, string s)
    {
        char quote = s.Contains('\'') && !s.Contains('"') ? '"' : '\'';
        sb.Append(quote);
        foreach (char c in s)
        {
            if (c == quote || c == '\\') sb.Append('\\').Append(c);
            else if (c == '\n') sb.Append("\\n");
            else if (c == '\r') sb.Append("\\r");
            else if (c == '\t') sb.Append("\\t");
            else if (c < 0x20 || c == 0x7f) sb.Append($"\\x{(int)c:x2}");
            else sb.Append(c);
        }
        sb.Append(quote);
    }

    /// <summary>Python's repr of a float: the shortest round-trip digits, "1.0" for integral values, "1e-07" style exponents.</summary>
    public static string FloatRepr(double d)
    {
        if (double.IsNaN(d)) return "nan";
        if (double.IsInfinity(d)) return d > 0 ? "inf" : "-inf";
        string r = d.ToString("R", CultureInfo.InvariantCulture);
        int e = r.IndexOf('E');
        if (e >= 0)
        {
            int exponent = int.Parse(r.AsSpan(e + 1), CultureInfo.InvariantCulture);
            // Python writes digits out for exponents -4 to 15, where .NET already uses an exponent from 15 on.
            if (exponent is < -4 or >= 16) return $"{r[..e]}e{(exponent < 0 ? '-' : '+')}{Math.Abs(exponent):00}";
            r = decimal.Parse(r, NumberStyles.Float, CultureInfo.InvariantCulture).ToString(CultureInfo.InvariantCulture);
        }
        return r.Contains('.') ? r : r + ".0";
    }

    /// <summary>json.dumps(value, ensure_ascii=False, indent=…, separators=…, sort_keys=…), as transformers' tojson.</summary>
    public static string ToJson(object? value, int? indent, bool sortKeys, (string Item, string Key)? separators, int line)
    {
        var sb = new StringBuilder();
        var (item, key) = separators ?? (indent is null ? (", ", ": ") : (",", ": "));
        AppendJson(sb, value, indent, sortKeys, item, key, 0, line);
        return sb.ToString();
    }

    private static void AppendJson(StringBuilder sb, object? value, int? indent, bool sortKeys, string item, string key, int depth, int line)
    {
        void NewLine(int level)
        {
            if (indent is { } n) sb.Append('\n').Append(' ', n * level);
        }
        switch (value)
        {
            case null: sb.Append("null"); break;
            case bool b: sb.Append(b ? "true" : "false"); break;
            case long l: sb.Append(l.ToString(CultureInfo.InvariantCulture)); break;
            case double d: sb.Append(double.IsNaN(d) ? "NaN" : double.IsInfinity(d) ? (d > 0 ? "Infinity" : "-Infinity") : FloatRepr(d)); break;
            case string s: AppendJsonString(sb, s); break;
            case List<object?> list:
                if (list.Count == 0) { sb.Append("[]"); break; }
                sb.Append('[');
                for (int i = 0; i < list.Count; i++)
                {
                    if (i > 0) sb.Append(item);
                    NewLine(depth + 1);
                    AppendJson(sb, list[i], indent, sortKeys, item, key, depth + 1, line);
                }
                NewLine(depth);
                sb.Append(']');
                break;
            case OrderedDictionary<string, object?> or Namespace:
                var dict = value as OrderedDictionary<string, object?> ?? ((Namespace)value).Values;
                if (dict.Count == 0) { sb.Append("{}"); break; }
                sb.Append('{');
                var pairs = sortKeys ? dict.OrderBy(p => p.Key, StringComparer.Ordinal).ToList() : dict.ToList();
                for (int i = 0; i < pairs.Count; i++)
                {
                    if (i > 0) sb.Append(item);
                    NewLine(depth + 1);
                    AppendJsonString(sb, pairs[i].Key);
                    sb.Append(key);
                    AppendJson(sb, pairs[i].Value, indent, sortKeys, item, key, depth + 1, line);
                }
                NewLine(depth);
                sb.Append('}');
                break;
            default:
                throw new JinjaException($"a value of type {TypeName(value)} cannot be written as JSON", line);
        }
    }

    private static void AppendJsonString(StringBuilder sb, string s)
    {
        sb.Append('"');
        foreach (char c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case '\b': sb.Append("\\b"); break;
                case '\f': sb.Append("\\f"); break;
                default:
                    if (c < 0x20) sb.Append($"\\u{(int)c:x4}");
                    else sb.Append(c);
                    break;
            }
        }
        sb.Append('"');
    }
}
