using System.ComponentModel;
using System.Globalization;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace Reins.Alignment.Training;

/// <summary>
/// Resolves a trainer config from its defaults, then a JSON file (TRL's snake_case keys), then command-line values;
/// later sources win. An unknown key or a value of the wrong type is an error naming the source and the key.
/// </summary>
public static class ConfigBinder
{
    /// <summary>A settable config field: its snake_case key, description and type.</summary>
    public sealed record Field(string Key, string Description, Type Type, PropertyInfo Property);

    /// <summary>The fields of <typeparamref name="T"/> in declaration order (base record first).</summary>
    public static IReadOnlyList<Field> Fields<T>() => Fields(typeof(T));

    private static IReadOnlyList<Field> Fields(Type type) =>
        [.. type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.GetCustomAttribute<JsonPropertyNameAttribute>() is not null && p.CanWrite)
            .OrderBy(p => Depth(p.DeclaringType!))
            .Select(p => new Field(p.GetCustomAttribute<JsonPropertyNameAttribute>()!.Name, p.GetCustomAttribute<DescriptionAttribute>()?.Description ?? "", p.PropertyType, p))];

    private static int Depth(Type t) { int d = 0; for (var b = t.BaseType; b is not null; b = b.BaseType) d++; return d; }

    /// <summary>Defaults ← <paramref name="jsonPath"/> (if given) ← <paramref name="overrides"/> (snake_case key → text).</summary>
    public static T Resolve<T>(string? jsonPath, IReadOnlyDictionary<string, string> overrides) where T : new()
    {
        object config = new T();
        var fields = Fields<T>().ToDictionary(f => f.Key);
        if (jsonPath is not null)
        {
            JsonObject json;
            try { json = JsonNode.Parse(File.ReadAllText(jsonPath)) as JsonObject ?? throw new InvalidDataException($"{jsonPath}: expected a JSON object of settings."); }
            catch (JsonException e) { throw new InvalidDataException($"{jsonPath}: invalid JSON at line {e.LineNumber + 1}: {e.Message}"); }
            foreach (var (key, value) in json)
            {
                if (!fields.TryGetValue(key, out var field))
                    throw new InvalidDataException($"{jsonPath}: unknown key '{key}' for {typeof(T).Name}{Suggest(key, fields.Keys)}.");
                field.Property.SetValue(config, FromJson(value, field, jsonPath));
            }
        }
        foreach (var (key, text) in overrides)
        {
            if (!fields.TryGetValue(key, out var field)) throw new ArgumentException($"unknown setting '{key}' for {typeof(T).Name}{Suggest(key, fields.Keys)}.");
            field.Property.SetValue(config, FromText(text, field, "--" + key.Replace('_', '-')));
        }
        return (T)config;
    }

    /// <summary>The resolved settings as the JSON object written to the run's config.json.</summary>
    public static JsonObject ToJson<T>(T config)
    {
        var o = new JsonObject();
        foreach (var f in Fields<T>())
        {
            var v = f.Property.GetValue(config);
            o[f.Key] = v switch
            {
                null => null,
                Enum e => SnakeCase(e.ToString()),
                _ => JsonSerializer.SerializeToNode(v, f.Type),
            };
        }
        return o;
    }

    /// <summary>The default value of a field, as shown in --help.</summary>
    public static string DefaultText<T>(Field field) where T : new() => field.Property.GetValue(new T()) switch
    {
        null => "none",
        Enum e => SnakeCase(e.ToString()),
        IFormattable x => x.ToString(null, CultureInfo.InvariantCulture),
        var x => x.ToString() ?? "",
    };

    private static object? FromJson(JsonNode? value, Field field, string source)
    {
        var type = Nullable.GetUnderlyingType(field.Type) ?? field.Type;
        if (value is null) return Nullable.GetUnderlyingType(field.Type) is not null || !field.Type.IsValueType ? null : throw Bad(source, field, "null");
        try
        {
            if (type.IsEnum) return ParseEnum(value.GetValue<string>(), type, source, field);
            return value.Deserialize(type);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        {
            throw Bad(source, field, value.ToJsonString());
        }
    }

    private static object? FromText(string text, Field field, string source)
    {
        var type = Nullable.GetUnderlyingType(field.Type) ?? field.Type;
        var inv = CultureInfo.InvariantCulture;
        try
        {
            if (type == typeof(string)) return text;
            if (type == typeof(int)) return int.Parse(text, inv);
            if (type == typeof(ulong)) return ulong.Parse(text, inv);
            if (type == typeof(float)) return float.Parse(text, inv);
            if (type == typeof(double)) return double.Parse(text, inv);
            if (type == typeof(bool)) return bool.Parse(text);
            if (type.IsEnum) return ParseEnum(text, type, source, field);
        }
        catch (FormatException) { throw Bad(source, field, text); }
        catch (OverflowException) { throw Bad(source, field, text); }
        throw new NotSupportedException($"{source}: settings of type {type.Name} cannot be given on the command line.");
    }

    /// <summary>Parses an enum setting by its snake_case name (or member name), naming the key when it fails.</summary>
    public static TEnum ParseEnum<TEnum>(string text, string key) where TEnum : struct, Enum =>
        (TEnum)ParseEnum(text, typeof(TEnum), "--" + key.Replace('_', '-'), new Field(key, "", typeof(TEnum), null!));

    private static object ParseEnum(string text, Type type, string source, Field field)
    {
        foreach (var name in Enum.GetNames(type))
            if (SnakeCase(name) == text || name.Equals(text, StringComparison.OrdinalIgnoreCase)) return Enum.Parse(type, name);
        throw new ArgumentException($"{source}: '{field.Key}' = '{text}' is not one of {string.Join(", ", Enum.GetNames(type).Select(SnakeCase))}.");
    }

    private static ArgumentException Bad(string source, Field field, string value) =>
        new($"{source}: '{field.Key}' expects {Describe(field.Type)}, got {value}.");

    private static string Describe(Type t)
    {
        var u = Nullable.GetUnderlyingType(t) ?? t;
        return u == typeof(int) || u == typeof(ulong) ? "an integer" : u == typeof(float) || u == typeof(double) ? "a number" : u == typeof(bool) ? "true or false" : u == typeof(string) ? "a string" : u.Name;
    }

    /// <summary>"RewardModel" → "reward_model".</summary>
    public static string SnakeCase(string name) => string.Concat(name.Select((c, i) => char.IsUpper(c) ? (i > 0 ? "_" : "") + char.ToLowerInvariant(c) : c.ToString()));

    private static string Suggest(string key, IEnumerable<string> known)
    {
        var close = known.OrderBy(k => Distance(k, key)).First();
        return Distance(close, key) <= 3 ? $" (did you mean '{close}'?)" : "";
    }

    private static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (int i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (int j = 0; j <= b.Length; j++) d[0, j] = j;
        for (int i = 1; i <= a.Length; i++)
            for (int j = 1; j <= b.Length; j++)
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
        return d[a.Length, b.Length];
    }
}
