using System.CommandLine;
using Reins.Alignment.Training;

namespace Reins.Cli.Commands.Training;

/// <summary>
/// One flag per field of a settings record and its sections (<see cref="ConfigBinder.Fields{T}"/>): kebab-case, with the
/// snake_case spelling as an alias, --out for output_dir, each flag's help ending with its default, a boolean's value
/// optional (the flag alone is true); and a hidden one per retired key (<see cref="RetiredSettingAttribute"/>).
/// </summary>
internal sealed class SettingsOptions<T> where T : new()
{
    private readonly List<(string Key, Option Option, Func<ParseResult, string?> Value)> fields = [];

    /// <summary>Adds the flags to <paramref name="command"/>.</summary>
    public SettingsOptions(Command command)
    {
        foreach (var f in ConfigBinder.Fields<T>())
        {
            if (f.Type == typeof(string[]))
            {
                // A list takes several values, as TRL's nargs flags (`--lora_target_modules q_proj v_proj`), or one comma-separated.
                var list = new Option<string[]>("--" + f.Key.Replace('_', '-'), "--" + f.Key)
                {
                    Description = $"{f.Description} (default: {ConfigBinder.DefaultText<T>(f)})", HelpName = "names", Arity = ArgumentArity.OneOrMore,
                    AllowMultipleArgumentsPerToken = true,
                };
                command.Add(list);
                fields.Add((f.Key, list, r => string.Join(',', r.GetValue(list) ?? [])));
                continue;
            }
            var option = f.Key == "output_dir"
                ? new Option<string?>("--out", "--output-dir", "--output_dir")
                : new Option<string?>("--" + f.Key.Replace('_', '-'), "--" + f.Key);
            option.Description = $"{f.Description} (default: {ConfigBinder.DefaultText<T>(f)})";
            option.HelpName = "value";
            // A switch alone means true, as transformers' HfArgumentParser reads `--packing`; `--packing false` still works.
            if (f.Type == typeof(bool)) option.Arity = ArgumentArity.ZeroOrOne;
            command.Add(option);
            fields.Add((f.Key, option, r => r.GetValue(option)));
        }
        // Keys the method once accepted and never used still parse, hidden: their old default passes, anything else is refused.
        foreach (var retired in ConfigBinder.Retired<T>())
        {
            var option = new Option<string?>("--" + retired.Key.Replace('_', '-'), "--" + retired.Key) { Hidden = true };
            command.Add(option);
            fields.Add((retired.Key, option, r => r.GetValue(option)));
        }
    }

    /// <summary>The settings: defaults, then <paramref name="jsonPath"/>'s keys (when given), then the flags given.</summary>
    public T Resolve(ParseResult r, string? jsonPath = null)
    {
        var overrides = fields.Where(f => r.GetResult(f.Option) is not null).ToDictionary(f => f.Key, f => f.Value(r) ?? "true");
        return ConfigBinder.Resolve<T>(jsonPath, overrides);
    }
}
