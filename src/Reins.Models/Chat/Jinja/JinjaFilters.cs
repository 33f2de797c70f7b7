using System.Globalization;
using System.Text;
using static Reins.Models.Chat.Jinja.JinjaValues;

namespace Reins.Models.Chat.Jinja;

/// <summary>
/// Jinja's builtin filters and tests that chat templates use, transformers' tojson (json.dumps with ensure_ascii off),
/// and the Python str, dict and list methods templates call (message.content.split('&lt;/think&gt;'), tool.get(…)).
/// An unknown filter or test is refused when the template is parsed.
/// </summary>
internal static class JinjaFilters
{
    public static readonly HashSet<string> FilterNames =
    [
        "abs", "capitalize", "count", "d", "default", "dictsort", "e", "escape", "first", "float", "indent", "int", "items", "join",
        "last", "length", "list", "lower", "map", "max", "min", "reject", "rejectattr", "replace", "reverse", "round", "safe",
        "select", "selectattr", "sort", "string", "sum", "title", "tojson", "trim", "unique", "upper", "wordcount",
    ];

    public static readonly HashSet<string> TestNames =
    [
        "boolean", "callable", "defined", "divisibleby", "eq", "equalto", "==", "even", "false", "float", "ge", ">=", "greaterthan", "gt", ">",
        "in", "integer", "iterable", "le", "<=", "lessthan", "lt", "<", "lower", "mapping", "ne", "!=", "none", "number", "odd", "sameas",
        "sequence", "string", "true", "undefined", "upper",
    ];

    public static object? Apply(string name, object? value, List<object?> args, Dictionary<string, object?> kwargs, int line, JinjaRuntime runtime)
    {
        object? Arg(int i, string key, object? fallback) => i < args.Count ? args[i] : kwargs.TryGetValue(key, out var v) ? v : fallback;
        if (value is Undefined u && name is not ("default" or "d" or "string" or "list" or "length" or "count" or "tojson" or "trim" or "join" or "e" or "escape" or "safe"))
            throw new JinjaException($"'{u.Name}' is undefined (filter '{name}')", line);
        switch (name)
        {
            case "abs":
                return value switch { long l => (object)Math.Abs(l), double d => Math.Abs(d), bool b => b ? 1L : 0L, _ => throw Bad() };
            case "capitalize":
                return Capitalize(Text());
            case "count" or "length":
                return value switch
                {
                    string s => (long)JinjaRuntime.StringElements(s).Count(),
                    List<object?> l => (long)l.Count,
                    OrderedDictionary<string, object?> d => (long)d.Count,
                    Undefined => 0L,
                    _ => throw Bad(),
                };
            case "d" or "default":
                bool boolean = IsTrue(Arg(1, "boolean", false));
                return value is Undefined || (boolean && !IsTrue(value)) ? Arg(0, "default_value", "") : value;
            case "dictsort":
            {
                var dict = value as OrderedDictionary<string, object?> ?? throw Bad();
                bool caseSensitive = IsTrue(Arg(0, "case_sensitive", false));
                bool byValue = Str(Arg(1, "by", "key")) == "value";
                var pairs = dict.Select(p => (object?)new PythonTuple([p.Key, p.Value])).ToList();
                return Sorted(pairs, p => ((List<object?>)p!)[byValue ? 1 : 0], caseSensitive, IsTrue(Arg(2, "reverse", false)), line);
            }
            case "e" or "escape":
                return Str(value).Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;").Replace("\"", "&#34;").Replace("'", "&#39;");
            case "first":
                return Items().FirstOrDefault(new Undefined("first"));
            case "last":
                return value is OrderedDictionary<string, object?> ? throw Bad() : Items().LastOrDefault(new Undefined("last"));
            case "float":
                return value switch
                {
                    long l => (double)l, double d => d, bool b => b ? 1.0 : 0.0,
                    string s when double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double p) => p,
                    _ => ToDouble(Arg(0, "default", 0.0)),
                };
            case "int":
                return value switch
                {
                    long l => l, double d => (long)Math.Truncate(d), bool b => b ? 1L : 0L,
                    string s when long.TryParse(s.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out long p) => p,
                    string s when double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double p) => (long)Math.Truncate(p),
                    _ => Arg(0, "default", 0L),
                };
            case "indent":
                return Indent(Text(), Arg(0, "width", 4L), IsTrue(Arg(1, "first", false)), IsTrue(Arg(2, "blank", false)));
            case "items":
                return value is OrderedDictionary<string, object?> items ? items.Select(p => (object?)new PythonTuple([p.Key, p.Value])).ToList() : throw Bad();
            case "join":
            {
                string separator = Str(Arg(0, "d", ""));
                var attribute = Arg(1, "attribute", null);
                return string.Join(separator, Items().Select(x => Str(attribute is null ? x : Get(x, attribute, line))));
            }
            case "list":
                return value is Undefined ? new List<object?>() : Items().ToList();
            case "lower":
                return Text().ToLowerInvariant();
            case "upper":
                return Text().ToUpperInvariant();
            case "title":
                return Title(Text());
            case "map":
            {
                if (kwargs.TryGetValue("attribute", out var attribute))
                    return Items().Select(x => Get(x, attribute, line) is Undefined && kwargs.TryGetValue("default", out var d) ? d : Get(x, attribute, line)).ToList();
                string filter = args.Count > 0 ? Str(args[0]) : throw new JinjaException("map needs a filter name or attribute=", line);
                if (!FilterNames.Contains(filter)) throw new JinjaException($"no filter named '{filter}'", line);
                return Items().Select(x => Apply(filter, x, args.Skip(1).ToList(), [], line, runtime)).ToList();
            }
            case "max" or "min":
            {
                var list = Items().ToList();
                if (list.Count == 0) return new Undefined(name);
                var attribute = Arg(1, "attribute", null);
                bool caseSensitive = IsTrue(Arg(0, "case_sensitive", false));
                var sorted = Sorted(list, x => attribute is null ? x : Get(x, attribute, line), caseSensitive, false, line);
                return name == "min" ? sorted[0] : sorted[^1];
            }
            case "select" or "reject":
            {
                bool keep = name == "select";
                if (args.Count == 0) return Items().Where(x => IsTrue(x) == keep).ToList();
                string test = Str(args[0]);
                if (!TestNames.Contains(test)) throw new JinjaException($"no test named '{test}'", line);
                return Items().Where(x => Test(test, x, args.Skip(1).ToList(), line) == keep).ToList();
            }
            case "selectattr" or "rejectattr":
            {
                bool keep = name == "selectattr";
                var attribute = args.Count > 0 ? args[0] : throw new JinjaException($"{name} needs an attribute", line);
                if (args.Count == 1) return Items().Where(x => IsTrue(Get(x, attribute, line)) == keep).ToList();
                string test = Str(args[1]);
                if (!TestNames.Contains(test)) throw new JinjaException($"no test named '{test}'", line);
                return Items().Where(x => Test(test, Get(x, attribute, line), args.Skip(2).ToList(), line) == keep).ToList();
            }
            case "replace":
            {
                string text = Text(), old = Str(Arg(0, "old", "")), replacement = Str(Arg(1, "new", ""));
                long count = Arg(2, "count", null) as long? ?? -1;
                return Replace(text, old, replacement, count);
            }
            case "reverse":
                return value is string rs ? string.Concat(JinjaRuntime.StringElements(rs).Reverse()) : Items().Reverse().ToList();
            case "round":
            {
                int precision = (int)(Arg(0, "precision", 0L) as long? ?? 0);
                string method = Str(Arg(1, "method", "common"));
                double x = ToDouble(value), scale = Math.Pow(10, precision);
                double r = method switch
                {
                    "common" => Math.Round(x * scale, MidpointRounding.ToEven) / scale, // Python's round() rounds half to even
                    "floor" => Math.Floor(x * scale) / scale,
                    "ceil" => Math.Ceiling(x * scale) / scale,
                    _ => throw new JinjaException("round's method is common, floor or ceil", line),
                };
                return r;
            }
            case "safe":
                return value;
            case "sort":
            {
                bool reverse = IsTrue(Arg(0, "reverse", false)), caseSensitive = IsTrue(Arg(1, "case_sensitive", false));
                var attribute = Arg(2, "attribute", null);
                return Sorted(Items().ToList(), x => attribute is null ? x : Get(x, attribute, line), caseSensitive, reverse, line);
            }
            case "string":
                return Str(value);
            case "sum":
            {
                var attribute = Arg(0, "attribute", null);
                object? total = Arg(1, "start", 0L);
                foreach (var x in Items()) total = JinjaRuntime.Binary("+", total, attribute is null ? x : Get(x, attribute, line), line);
                return total;
            }
            case "tojson":
            {
                int? indent = Arg(0, "indent", null) switch { null => null, long n => (int)n, _ => throw new JinjaException("tojson's indent must be an integer", line) };
                (string, string)? separators = Arg(3, "separators", null) is List<object?> { Count: 2 } seps ? (Str(seps[0]), Str(seps[1])) : null;
                return ToJson(value is Undefined ? throw new JinjaException("an undefined value cannot be written as JSON", line) : value, indent, IsTrue(Arg(4, "sort_keys", false)), separators, line);
            }
            case "trim":
            {
                string text = Str(value);
                return args.Count > 0 && args[0] is string chars ? text.Trim(chars.ToCharArray()) : text.Trim();
            }
            case "unique":
            {
                bool caseSensitive = IsTrue(Arg(0, "case_sensitive", false));
                var attribute = Arg(1, "attribute", null);
                var seen = new List<object?>();
                var result = new List<object?>();
                foreach (var x in Items())
                {
                    var key = attribute is null ? x : Get(x, attribute, line);
                    if (!caseSensitive && key is string s) key = s.ToLowerInvariant();
                    if (seen.Any(k => JinjaRuntime.JinjaEquals(k, key))) continue;
                    seen.Add(key);
                    result.Add(x);
                }
                return result;
            }
            case "wordcount":
                return (long)Text().Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Length;
            default:
                throw new JinjaException($"no filter named '{name}'", line);
        }

        string Text() => value as string ?? Str(value);
        IEnumerable<object?> Items() => JinjaRuntime.Iterate(value, line);
        JinjaException Bad() => new($"filter '{name}' does not apply to a {TypeName(value)}", line);
    }

    public static bool Test(string name, object? value, List<object?> args, int line)
    {
        object? Arg() => args.Count > 0 ? args[0] : throw new JinjaException($"test '{name}' needs an argument", line);
        return name switch
        {
            "boolean" => value is bool,
            "callable" => value is Callable,
            "defined" => value is not Undefined,
            "undefined" => value is Undefined,
            "divisibleby" => IsNumber(value) && IsNumber(Arg()) && ToDouble(value) % ToDouble(Arg()) == 0,
            "eq" or "equalto" or "==" => JinjaRuntime.JinjaEquals(value, Arg()),
            "ne" or "!=" => !JinjaRuntime.JinjaEquals(value, Arg()),
            "lt" or "lessthan" or "<" => JinjaRuntime.Compare(value, Arg(), line) < 0,
            "le" or "<=" => JinjaRuntime.Compare(value, Arg(), line) <= 0,
            "gt" or "greaterthan" or ">" => JinjaRuntime.Compare(value, Arg(), line) > 0,
            "ge" or ">=" => JinjaRuntime.Compare(value, Arg(), line) >= 0,
            "even" => value is long e ? e % 2 == 0 : throw new JinjaException($"'even' needs an integer, not a {TypeName(value)}", line),
            "odd" => value is long o ? o % 2 != 0 : throw new JinjaException($"'odd' needs an integer, not a {TypeName(value)}", line),
            "false" => value is false,
            "true" => value is true,
            "none" => value is null,
            "float" => value is double,
            "integer" => value is long,
            "number" => value is long or double,
            "string" => value is string,
            "mapping" => value is OrderedDictionary<string, object?>,
            "iterable" => value is string or List<object?> or OrderedDictionary<string, object?>,
            "sequence" => value is string or List<object?> or OrderedDictionary<string, object?>,
            "in" => (bool)JinjaRuntime.Binary("in", value, Arg(), line)!,
            "lower" => value is string l && l == l.ToLowerInvariant(),
            "upper" => value is string u && u == u.ToUpperInvariant(),
            "sameas" => value is null ? Arg() is null : value is bool b ? Arg() is bool c && b == c : ReferenceEquals(value, Arg()),
            _ => throw new JinjaException($"no test named '{name}'", line),
        };
    }

    /// <summary>A Python method of a str, dict or list, bound to its object; null when the object has none of that name.</summary>
    public static Callable? Method(object? target, string name, int line)
    {
        Callable Bind(Func<List<object?>, object?> body) => new(name, (a, _) => body(a));
        string S(List<object?> a, int i) => a[i] as string ?? throw new JinjaException($"{name}() needs a string argument", line);
        switch (target)
        {
            case string s:
                return name switch
                {
                    "strip" => Bind(a => a.Count > 0 && a[0] is string c ? s.Trim(c.ToCharArray()) : s.Trim()),
                    "lstrip" => Bind(a => a.Count > 0 && a[0] is string c ? s.TrimStart(c.ToCharArray()) : s.TrimStart()),
                    "rstrip" => Bind(a => a.Count > 0 && a[0] is string c ? s.TrimEnd(c.ToCharArray()) : s.TrimEnd()),
                    "split" => Bind(a => Split(s, a.Count > 0 ? a[0] as string : null, a.Count > 1 ? (long)a[1]! : -1)),
                    "splitlines" => Bind(_ => s.Split('\n').Select(x => (object?)x.TrimEnd('\r')).ToList() is var lines && s.EndsWith('\n') ? lines.Take(lines.Count - 1).ToList() : lines),
                    "upper" => Bind(_ => s.ToUpperInvariant()),
                    "lower" => Bind(_ => s.ToLowerInvariant()),
                    "title" => Bind(_ => Title(s)),
                    "capitalize" => Bind(_ => Capitalize(s)),
                    "startswith" => Bind(a => Prefixes(a[0]).Any(p => s.StartsWith(p, StringComparison.Ordinal))),
                    "endswith" => Bind(a => Prefixes(a[0]).Any(p => s.EndsWith(p, StringComparison.Ordinal))),
                    "replace" => Bind(a => Replace(s, S(a, 0), S(a, 1), a.Count > 2 ? (long)a[2]! : -1)),
                    "find" => Bind(a => (long)s.IndexOf(S(a, 0), StringComparison.Ordinal)),
                    "count" => Bind(a => S(a, 0).Length == 0 ? (long)s.Length + 1 : (long)((s.Length - s.Replace(S(a, 0), "").Length) / S(a, 0).Length)),
                    "join" => Bind(a => string.Join(s, JinjaRuntime.Iterate(a[0], line).Select(Str))),
                    "isdigit" => Bind(_ => s.Length > 0 && s.All(char.IsDigit)),
                    "isspace" => Bind(_ => s.Length > 0 && s.All(char.IsWhiteSpace)),
                    _ => null,
                };
            case OrderedDictionary<string, object?> dict:
                return name switch
                {
                    "items" => Bind(_ => dict.Select(p => (object?)new PythonTuple([p.Key, p.Value])).ToList()),
                    "keys" => Bind(_ => dict.Keys.Cast<object?>().ToList()),
                    "values" => Bind(_ => dict.Values.ToList()),
                    "get" => Bind(a => a[0] is string k && dict.TryGetValue(k, out var v) ? v : a.Count > 1 ? a[1] : null),
                    _ => null,
                };
            case List<object?> list:
                return name switch
                {
                    "index" => Bind(a => (long)list.FindIndex(x => JinjaRuntime.JinjaEquals(x, a[0])) is var i && i >= 0 ? i : throw new JinjaException("list.index(x): x not in list", line)),
                    "count" => Bind(a => (long)list.Count(x => JinjaRuntime.JinjaEquals(x, a[0]))),
                    _ => null,
                };
            default:
                return null;
        }

        IEnumerable<string> Prefixes(object? arg) => arg switch
        {
            string p => [p],
            List<object?> options => options.Select(o => o as string ?? throw new JinjaException($"{name}() takes strings", line)),
            _ => throw new JinjaException($"{name}() takes a string or a tuple of strings", line),
        };
    }

    // Jinja's attribute= arguments: a dotted path, or an integer index.
    private static object? Get(object? item, object? attribute, int line)
    {
        if (attribute is long i) return item is List<object?> l && i >= 0 && i < l.Count ? l[(int)i] : new Undefined($"[{i}]");
        object? current = item;
        foreach (var part in Str(attribute).Split('.'))
        {
            current = current switch
            {
                OrderedDictionary<string, object?> d => d.TryGetValue(part, out var v) ? v : new Undefined(part),
                List<object?> l when int.TryParse(part, out int k) => k >= 0 && k < l.Count ? l[k] : new Undefined(part),
                _ => new Undefined(part),
            };
        }
        return current;
    }

    private static List<object?> Sorted(List<object?> items, Func<object?, object?> key, bool caseSensitive, bool reverse, int line)
    {
        object? Key(object? x)
        {
            var k = key(x);
            return !caseSensitive && k is string s ? s.ToLowerInvariant() : k;
        }
        var keyed = items.Select((x, i) => (Item: x, Key: Key(x), Index: i)).ToList();
        // Python's sort is stable, also when reversed.
        keyed.Sort((a, b) =>
        {
            int c = JinjaRuntime.Compare(a.Key, b.Key, line);
            if (reverse) c = -c;
            return c != 0 ? c : a.Index.CompareTo(b.Index);
        });
        return keyed.Select(k => k.Item).ToList();
    }

    private static List<object?> Split(string s, string? separator, long maxSplit)
    {
        var parts = new List<object?>();
        if (separator is null)
        {
            // Python's split(): runs of whitespace separate, and leading or trailing whitespace gives no empty part.
            int i = 0;
            while (true)
            {
                while (i < s.Length && char.IsWhiteSpace(s[i])) i++;
                if (i == s.Length) break;
                if (maxSplit >= 0 && parts.Count == maxSplit) { parts.Add(s[i..].TrimEnd()); break; }
                int start = i;
                while (i < s.Length && !char.IsWhiteSpace(s[i])) i++;
                parts.Add(s[start..i]);
            }
            return parts;
        }
        if (separator.Length == 0) throw new ArgumentException("empty separator");
        int from = 0;
        while (maxSplit < 0 || parts.Count < maxSplit)
        {
            int at = s.IndexOf(separator, from, StringComparison.Ordinal);
            if (at < 0) break;
            parts.Add(s[from..at]);
            from = at + separator.Length;
        }
        parts.Add(s[from..]);
        return parts;
    }

    private static string Replace(string s, string old, string replacement, long count)
    {
        if (count < 0) return old.Length == 0 ? string.Concat(JinjaRuntime.StringElements(s).Select(c => replacement + c)) + replacement : s.Replace(old, replacement, StringComparison.Ordinal);
        var sb = new StringBuilder();
        int from = 0;
        for (long n = 0; n < count; n++)
        {
            int at = s.IndexOf(old, from, StringComparison.Ordinal);
            if (at < 0 || old.Length == 0) break;
            sb.Append(s, from, at - from).Append(replacement);
            from = at + old.Length;
        }
        return sb.Append(s, from, s.Length - from).ToString();
    }

    private static string Capitalize(string s) => s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..].ToLowerInvariant();

    // Jinja's title: each word's first letter upper, the rest lower; a word starts after anything not a letter or digit.
    private static string Title(string s)
    {
        var sb = new StringBuilder(s.Length);
        bool inWord = false;
        foreach (char c in s)
        {
            sb.Append(inWord ? char.ToLowerInvariant(c) : char.ToUpperInvariant(c));
            inWord = char.IsLetterOrDigit(c) || c == '\'';
        }
        return sb.ToString();
    }

    private static string Indent(string s, object? width, bool first, bool blank)
    {
        string pad = width is string w ? w : new string(' ', (int)(width as long? ?? 4));
        var lines = s.Split('\n');
        var sb = new StringBuilder();
        for (int i = 0; i < lines.Length; i++)
        {
            if (i > 0) sb.Append('\n');
            bool indent = (i > 0 || first) && (blank || lines[i].Trim().Length > 0);
            if (indent) sb.Append(pad);
            sb.Append(lines[i]);
        }
        return sb.ToString();
    }
}
