using System.ComponentModel;
using System.Globalization;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace Reins.Alignment.Training;

/// <summary>
/// A record of settings. Its <see cref="JsonPropertyNameAttribute"/> properties are keys; its properties whose type is
/// itself <see cref="ISettings"/> are sections shared between methods (sampling, a preference loss, training
/// arguments), whose keys a config file and the command line see flat, as TRL's configs are.
/// </summary>
public interface ISettings
{
    /// <summary>Throws an <see cref="ArgumentException"/> naming the key of the first out-of-range setting.</summary>
    void Validate();
}

/// <summary>
/// A key a config once accepted although its method never used it. Config files written then (`reins config defaults`
/// output among them) hold it at <see cref="Default"/>, which is accepted and ignored; any other value is an error
/// saying <see cref="Why"/>. It is neither a flag nor listed in the documentation.
/// </summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true)]
public sealed class RetiredSettingAttribute(string key, string @default, string why) : Attribute
{
    /// <summary>The snake_case key.</summary>
    public string Key { get; } = key;
    /// <summary>The value it had, as JSON text.</summary>
    public string Default { get; } = @default;
    /// <summary>Why the method has no such setting.</summary>
    public string Why { get; } = why;

    /// <summary>Whether <paramref name="text"/> (a JSON value or a flag's text) is the retired default.</summary>
    public bool IsDefault(string text) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) && double.TryParse(Default, NumberStyles.Float, CultureInfo.InvariantCulture, out double old)
            ? value == old
            : string.Equals(text.Trim('"'), Default.Trim('"'), StringComparison.OrdinalIgnoreCase);
}

/// <summary>
/// Resolves a trainer config from its defaults, then a JSON file (TRL's snake_case keys), then command-line values;
/// later sources win. An unknown key or a value of the wrong type is an error naming the source and the key.
/// </summary>
public static class ConfigBinder
{
    /// <summary>A settable config field: its snake_case key, description, type, and the properties leading to it (sections, then the field).</summary>
    public sealed record Field(string Key, string Description, Type Type, IReadOnlyList<PropertyInfo> Path)
    {
        /// <summary>Whether null is a value of the field (int?, string?); a string declared without ? is not nullable.</summary>
        public bool IsNullable => Nullable.GetUnderlyingType(Type) is not null
            || !Type.IsValueType && new NullabilityInfoContext().Create(Path[^1]).WriteState == NullabilityState.Nullable;

        /// <summary>The field's value in <paramref name="config"/>.</summary>
        public object? Get(object config) => Path.Aggregate((object?)config, (o, p) => p.GetValue(o));

        // Sets the value in a config this binder made: each section on the way is replaced by a copy, so a section
        // instance shared with another config (a record's `with` copies sections by reference) is never changed.
        internal void Set(object config, object? value)
        {
            var owner = config;
            foreach (var section in Path.SkipLast(1))
            {
                var copy = Copy(section.GetValue(owner)!);
                section.SetValue(owner, copy);
                owner = copy;
            }
            Path[^1].SetValue(owner, value);
        }

        private static object Copy(object record) =>
            record.GetType().GetMethod("<Clone>$")?.Invoke(record, null) ?? throw new InvalidOperationException($"{record.GetType().Name}: a settings section must be a record.");
    }

    /// <summary>The fields of <typeparamref name="T"/> in declaration order, each section's where the section is declared.</summary>
    public static IReadOnlyList<Field> Fields<T>() => Fields(typeof(T));

    /// <summary>The fields of the settings record <paramref name="type"/>, as <see cref="Fields{T}"/>.</summary>
    public static IReadOnlyList<Field> Fields(Type type)
    {
        var fields = Fields(type, []);
        if (fields.GroupBy(f => f.Key).FirstOrDefault(g => g.Count() > 1) is { } twice)
            throw new InvalidOperationException($"{type.Name}: the key '{twice.Key}' is declared by more than one of its sections.");
        return fields;
    }

    private static List<Field> Fields(Type type, PropertyInfo[] prefix)
    {
        var fields = new List<Field>();
        foreach (var p in type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite).OrderBy(p => p.MetadataToken))
        {
            if (typeof(ISettings).IsAssignableFrom(p.PropertyType)) fields.AddRange(Fields(p.PropertyType, [.. prefix, p]));
            else if (p.GetCustomAttribute<JsonPropertyNameAttribute>() is { } name)
                fields.Add(new Field(name.Name, p.GetCustomAttribute<DescriptionAttribute>()?.Description ?? "", p.PropertyType, [.. prefix, p]));
        }
        return fields;
    }

    /// <summary>Defaults ← <paramref name="jsonPath"/> (if given) ← <paramref name="overrides"/> (snake_case key → text).</summary>
    public static T Resolve<T>(string? jsonPath, IReadOnlyDictionary<string, string> overrides) where T : new()
    {
        object config = new T();
        var fields = Fields<T>().ToDictionary(f => f.Key);
        if (jsonPath is not null)
        {
            var json = Models.Tokenizers.JsonText.Parse(File.ReadAllBytes(jsonPath), jsonPath) as JsonObject ?? throw new InvalidDataException($"{jsonPath}: expected a JSON object of settings.");
            foreach (var (key, value) in json)
            {
                if (fields.TryGetValue(key, out var field)) field.Set(config, FromJson(value, field, jsonPath));
                else if (!IsRetiredDefault<T>(key, value?.ToJsonString() ?? "null", jsonPath))
                    throw new InvalidDataException($"{jsonPath}: unknown key '{key}' for {typeof(T).Name}{Suggest(key, fields.Keys)}.");
            }
        }
        foreach (var (key, text) in overrides)
        {
            if (fields.TryGetValue(key, out var field)) field.Set(config, FromText(text, field, "--" + key.Replace('_', '-')));
            else if (!IsRetiredDefault<T>(key, text, "--" + key.Replace('_', '-')))
                throw new ArgumentException($"unknown setting '{key}' for {typeof(T).Name}{Suggest(key, fields.Keys)}.");
        }
        return (T)config;
    }

    /// <summary>The keys <typeparamref name="T"/> once accepted but never used (<see cref="RetiredSettingAttribute"/>).</summary>
    public static IReadOnlyList<RetiredSettingAttribute> Retired<T>() => [.. typeof(T).GetCustomAttributes<RetiredSettingAttribute>()];

    // A retired key at its old default is accepted and ignored; at any other value it is an error naming the reason.
    private static bool IsRetiredDefault<T>(string key, string text, string source)
    {
        if (Retired<T>().FirstOrDefault(r => r.Key == key) is not { } retired) return false;
        return retired.IsDefault(text) ? true : throw new ArgumentException($"{source}: '{key}' = {text}: {retired.Why}.");
    }

    /// <summary>
    /// The resolved settings as the JSON object written to the run's config.json: the fields of the record's own type,
    /// whatever type the caller holds it as (an online trainer holds its config as IOnlineConfig, whose properties are
    /// not settings).
    /// </summary>
    public static JsonObject ToJson(ISettings config)
    {
        var o = new JsonObject();
        foreach (var f in Fields(config.GetType()))
        {
            var v = f.Get(config);
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
    public static string DefaultText<T>(Field field) where T : new() => field.Get(new T()) switch
    {
        null => "none",
        Enum e => SnakeCase(e.ToString()),
        string[] names => string.Join(",", names),
        IFormattable x => x.ToString(null, CultureInfo.InvariantCulture),
        var x => x.ToString() ?? "",
    };

    private static object? FromJson(JsonNode? value, Field field, string source)
    {
        var type = Nullable.GetUnderlyingType(field.Type) ?? field.Type;
        if (value is null) return field.IsNullable ? null : throw Bad(source, field, "null");
        try
        {
            if (type.IsEnum) return ParseEnum(value.GetValue<string>(), type, source, field);
            // A list may also be one string, as TRL's configs give lora_target_modules "all-linear".
            if (type == typeof(string[]) && value is JsonValue) return Names(value.GetValue<string>());
            return Finite(value.Deserialize(type), source, field, value.ToJsonString());
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
            if (type == typeof(float)) return Finite(float.Parse(text, inv), source, field, text);
            if (type == typeof(double)) return Finite(double.Parse(text, inv), source, field, text);
            if (type == typeof(bool)) return bool.Parse(text);
            if (type.IsEnum) return ParseEnum(text, type, source, field);
            if (type == typeof(string[])) return Names(text);
        }
        catch (FormatException) { throw Bad(source, field, text); }
        catch (OverflowException) { throw Bad(source, field, text); }
        throw new NotSupportedException($"{source}: settings of type {type.Name} cannot be given on the command line.");
    }

    // A list of names given as one string, separated by commas or spaces (TRL's nargs flags give them space-separated).
    private static string[] Names(string text) => text.Split([',', ' '], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>Parses an enum setting by its snake_case name (or member name), naming the key when it fails.</summary>
    public static TEnum ParseEnum<TEnum>(string text, string key) where TEnum : struct, Enum =>
        (TEnum)ParseEnum(text, typeof(TEnum), "--" + key.Replace('_', '-'), new Field(key, "", typeof(TEnum), []));

    private static object ParseEnum(string text, Type type, string source, Field field)
    {
        foreach (var name in Enum.GetNames(type))
            if (SnakeCase(name) == text || name.Equals(text, StringComparison.OrdinalIgnoreCase)) return Enum.Parse(type, name);
        throw new ArgumentException($"{source}: '{field.Key}' = '{text}' is not one of {string.Join(", ", Enum.GetNames(type).Select(SnakeCase))}.");
    }

    // No setting means anything at NaN or ±∞ (a run would train to NaN, or fail writing its config), and 1e400 reads as ∞.
    private static object? Finite(object? value, string source, Field field, string text) =>
        value is float f && !float.IsFinite(f) || value is double d && !double.IsFinite(d)
            ? throw new ArgumentException($"{source}: '{field.Key}' must be a finite number, got {text}.")
            : value;

    private static ArgumentException Bad(string source, Field field, string value) =>
        new($"{source}: '{field.Key}' expects {Describe(field.Type)}, got {value}.");

    private static string Describe(Type t)
    {
        var u = Nullable.GetUnderlyingType(t) ?? t;
        if (u == typeof(string[])) return "a list of names";
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
