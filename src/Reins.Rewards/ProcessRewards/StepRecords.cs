using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Reins.Models.Tokenizers;

namespace Reins.Rewards.ProcessRewards;

/// <summary>A JSONL record holding one solution: its line, every field as read, and the solution.</summary>
/// <param name="Line">1-based line number.</param>
/// <param name="Fields">The record's fields, kept for the output.</param>
/// <param name="Solution">The problem and steps.</param>
public sealed record StepRecord(int Line, JsonObject Fields, StepSolution Solution);

/// <summary>
/// Reads solutions to score step by step from JSONL: the problem in <c>problem</c> (ProcessBench) or <c>prompt</c> (TRL's
/// step-wise records), the steps in <c>steps</c> or <c>completions</c>, every step a non-empty string. Any other field is
/// kept. A bad record is an error naming the file, line and field.
/// </summary>
public static class StepRecords
{
    /// <summary>The records of <paramref name="path"/>, in order; blank lines are skipped.</summary>
    public static IEnumerable<StepRecord> Read(string path)
    {
        foreach (var utf8 in Utf8Lines.Read(path))
        {
            string where = $"{path}:{utf8.Number}";
            var text = utf8.Text ?? throw new InvalidDataException($"{where}: {utf8.Problem}.");
            if (string.IsNullOrWhiteSpace(text)) continue;
            var record = JsonText.Parse(Encoding.UTF8.GetBytes(text), where) as JsonObject ?? throw new InvalidDataException($"{where}: expected a JSON object.");
            string problemKey = record.ContainsKey("problem") ? "problem" : "prompt", stepsKey = record.ContainsKey("steps") ? "steps" : "completions";
            var problem = record[problemKey] is JsonValue p && p.GetValueKind() == JsonValueKind.String ? p.GetValue<string>()
                : throw new InvalidDataException($"{where}: field \"{problemKey}\": {(record.ContainsKey(problemKey) ? "expected a string" : "missing (a solution needs \"problem\" or \"prompt\", and \"steps\" or \"completions\")")}.");
            var steps = record[stepsKey] as JsonArray
                ?? throw new InvalidDataException($"{where}: field \"{stepsKey}\": {(record.ContainsKey(stepsKey) ? "expected a list of steps" : "missing (a solution needs \"problem\" or \"prompt\", and \"steps\" or \"completions\")")}.");
            if (steps.Count == 0) throw new InvalidDataException($"{where}: field \"{stepsKey}\": expected at least one step, got an empty list.");
            var list = new string[steps.Count];
            for (int i = 0; i < steps.Count; i++)
                list[i] = steps[i] is JsonValue s && s.GetValueKind() == JsonValueKind.String && s.GetValue<string>() is var step && !string.IsNullOrWhiteSpace(step) ? step
                    : throw new InvalidDataException($"{where}: field \"{stepsKey}[{i}]\": {(steps[i] is JsonValue v && v.GetValueKind() == JsonValueKind.String ? "empty step" : "expected a string")}.");
            yield return new StepRecord(utf8.Number, record, new StepSolution(problem, list));
        }
    }
}
