using System.CommandLine;
using System.Text.Json.Nodes;
using Reins.Alignment.Online;
using Reins.Models.Generation;
using Reins.Cli.Commands.Training;
using Reins.Feedback.Datasets;
using Reins.Feedback.Tokenization;
using Reins.Models.Checkpoints;
using Reins.Rewards.Critics;
using Reins.Rewards.ProcessRewards;
using Reins.Rewards.Sources;

namespace Reins.Cli.Commands;

/// <summary>
/// `reins critique`: a generative critic's critiques and verdicts of step-by-step solutions, optionally each solution
/// refined by a policy shown the critique and checked by a verifier; `critique prompts` writes the critic's prompts as
/// prompt-only records for SFT or GRPO (with the verdict_match rewards).
/// </summary>
internal static class CritiqueCommand
{
    /// <summary>The critic's prompt and verdict grammar (--template, --verdict-pattern, --chat).</summary>
    internal class FormatOptions
    {
        private readonly Option<string?> template = new("--template") { Description = "File holding the critic's prompt template, with {problem} and {steps} (default: ProcessBench's critic prompt)." };
        private readonly Option<string> verdict = new("--verdict-pattern") { Description = "Regular expression whose first group, at its last match, is the verdict (the earliest wrong step, -1 for none).", DefaultValueFactory = _ => CriticFormat.BoxedVerdict };
        private readonly Option<bool> chat = new("--chat") { Description = "Send the prompt as a user turn through the tokenizer's chat template (instruction-tuned critics)." };

        public FormatOptions(Command command)
        {
            foreach (var o in new Option[] { template, verdict, chat }) command.Add(o);
        }

        public CriticFormat Format(ParseResult r) =>
            new(r.GetValue(template) is { } path ? File.ReadAllText(path) : CriticFormat.ProcessBenchTemplate, r.GetValue(verdict)!);

        public bool Chat(ParseResult r) => r.GetValue(chat);
    }

    /// <summary>What running a critic takes besides its format: decoding (greedy by default, as ProcessBench evaluates critics) and batching.</summary>
    internal sealed class CriticOptions : FormatOptions
    {
        private readonly Option<int> maxNewTokens = new("--max-new-tokens") { Description = "Tokens a critique (or a refinement) may take.", DefaultValueFactory = _ => 256 };
        private readonly Option<float> temperature = new("--temperature") { Description = "Sampling temperature; 0 decodes greedily.", DefaultValueFactory = _ => 0f };
        private readonly Option<int> batchSize = new("--batch-size") { Description = "Solutions per generation call.", DefaultValueFactory = _ => 8 };
        private readonly Option<ulong> seed = CommonOptions.Seed();

        public CriticOptions(Command command) : base(command)
        {
            foreach (var o in new Option[] { maxNewTokens, temperature, batchSize, seed }) command.Add(o);
        }

        public SamplingOptions Sampling(ParseResult r) =>
            new SamplingOptions { MaxNewTokens = r.GetValue(maxNewTokens), Temperature = r.GetValue(temperature), Seed = r.GetValue(seed) }.Validate();

        public int BatchSize(ParseResult r) => r.GetValue(batchSize) is >= 1 and var b ? b : throw new ArgumentException("--batch-size: must be at least 1.");

        /// <summary>The critic at <paramref name="directory"/> with these options.</summary>
        public GenerativeCritic Load(ParseResult r, string directory)
        {
            var (model, tokenizer) = HfCheckpoint.LoadWithTokenizer(directory);
            return new GenerativeCritic(model, new TokenizerEncoder(tokenizer), ids => tokenizer.Decode(ids, skipSpecialTokens: true), Format(r), Sampling(r), Chat(r));
        }
    }

    public static Command Create()
    {
        var critic = new Option<string>("--critic") { Description = "Checkpoint directory of the critic (a causal LM with its tokenizer).", Required = true };
        var input = new Option<string>("--input") { Description = "JSONL of solutions: \"problem\" (or \"prompt\") and \"steps\" (or \"completions\"); other fields (label, answer, …) are kept.", Required = true };
        var output = new Option<string>("--output") { Description = "JSONL written with each record's fields plus critique and verdict (and, with --refine, refined and refined_score).", Required = true };
        var policy = new Option<string?>("--policy") { Description = "With --refine: the policy that rewrites each solution shown its critique." };
        var refine = new Option<bool>("--refine") { Description = "Have --policy refine each solution given its critique; the reward flags (e.g. --reward-function exact_match) score the refinement." };
        var threads = CommonOptions.Threads();
        var cmd = new Command("critique", "A generative critic's critique and verdict (the earliest wrong step) of each solution; --refine has a policy rewrite it given the critique, checked by the reward flags.")
            { critic, input, output, policy, refine, threads };
        var options = new CriticOptions(cmd);
        var rewards = new RewardOptions(cmd);
        cmd.SetAction((r, cancellation) =>
        {
            CommonOptions.ApplyThreads(r.GetValue(threads));
            var records = StepRecords.Read(r.GetValue(input)!).ToArray();
            if (r.GetValue(refine) && r.GetValue(policy) is null) throw new ArgumentException("--refine: give the --policy that rewrites the solutions.");
            var judge = options.Load(r, r.GetValue(critic)!);
            var critiques = judge.Judge([.. records.Select(x => x.Solution)], options.BatchSize(r), cancellation);
            for (int i = 0; i < records.Length; i++)
            {
                records[i].Fields["critique"] = critiques[i].Text;
                records[i].Fields["verdict"] = critiques[i].Verdict;
            }
            if (r.GetValue(refine)) Refine(r, records, critiques, r.GetValue(policy)!, options.Sampling(r), options.BatchSize(r), rewards, cancellation);
            string path = r.GetValue(output)!, temporary = path + ".tmp";
            File.WriteAllLines(temporary, records.Select(x => x.Fields.ToJsonString()));
            File.Move(temporary, path, overwrite: true);
            int parsed = critiques.Count(c => c.Verdict is not null);
            Console.Error.WriteLine($"critique: {records.Length} solutions, {parsed} with a verdict ({records.Length - parsed} without: wrong wherever scored); prompts cut to fit: {judge.Report.PromptsTruncated} → {path}");
            return Task.FromResult(0);
        });
        cmd.Add(Prompts());
        return cmd;
    }

    // Each solution rewritten by the policy from the problem, the solution and its critique, then scored by the verifier.
    private static void Refine(ParseResult r, StepRecord[] records, IReadOnlyList<Critique> critiques, string policyDir, SamplingOptions sampling, int batchSize,
        RewardOptions rewards, CancellationToken cancellation)
    {
        var (policy, tokenizer) = HfCheckpoint.LoadWithTokenizer(policyDir);
        var verifier = rewards.Build(r, out var resources);
        using (resources)
        {
            var prompts = records.Select((x, i) => new PromptOnlyExample(TextOrConversation.FromText(
                RefinementPrompt.Render(x.Solution.Problem, string.Join("\n", x.Solution.Steps), critiques[i].Text)))
            {
                Extra = x.Fields.ToDictionary(kv => kv.Key, kv => System.Text.Json.JsonSerializer.SerializeToElement(kv.Value)), Line = x.Line,
            }).ToArray();
            var sampler = new CompletionSampler(new TokenizerEncoder(tokenizer), ids => tokenizer.Decode(ids, skipSpecialTokens: true), verifier,
                Math.Max(1, policy.Config.MaxPositions - sampling.MaxNewTokens));
            var tokenized = sampler.Tokenize(prompts);
            var samples = sampler.GenerateAll(policy, tokenized, sampling with { Seed = sampling.Seed ^ 0x5EF1AEUL }, batchSize).OrderBy(s => s.PromptIndex).ToArray();
            if (tokenized.Count != records.Length) throw new InvalidDataException($"critique --refine: {records.Length - tokenized.Count} refinement prompts were dropped as too long.");
            var scored = sampler.Score(tokenized, samples, null, cancellation);
            for (int i = 0; i < records.Length; i++)
            {
                records[i].Fields["refined"] = scored.Samples[i].Text;
                records[i].Fields["refined_score"] = scored.Scores[i];
            }
        }
    }

    private static Command Prompts()
    {
        var input = new Option<string>("--input") { Description = "JSONL of solutions (ProcessBench's records, or {prompt, completions}); other fields (label, …) are kept for the rewards.", Required = true };
        var output = new Option<string>("--output") { Description = "Prompt-only JSONL written: the critic's prompt as \"prompt\" (a user message with --chat) and the record's other fields.", Required = true };
        var cmd = new Command("prompts", "Write the critic's prompts as prompt-only records, for SFT on critiques or GRPO with --reward-function verdict_match / verdict_step_match.") { input, output };
        var format = new FormatOptions(cmd);
        cmd.SetAction(r =>
        {
            var critic = format.Format(r);
            string path = r.GetValue(output)!, temporary = path + ".tmp";
            int count = 0;
            using (var writer = new StreamWriter(temporary))
                foreach (var record in StepRecords.Read(r.GetValue(input)!))
                {
                    string text = critic.Render(record.Solution.Problem, record.Solution.Steps);
                    var o = new JsonObject();
                    foreach (var (key, value) in record.Fields)
                        if (key is not ("prompt" or "problem" or "completions")) o[key] = value?.DeepClone();
                    o["problem"] = record.Solution.Problem;
                    o["steps"] = new JsonArray([.. record.Solution.Steps.Select(s => (JsonNode?)s)]);
                    o["prompt"] = format.Chat(r) ? new JsonArray(new JsonObject { ["role"] = "user", ["content"] = text }) : text;
                    writer.WriteLine(o.ToJsonString());
                    count++;
                }
            File.Move(temporary, path, overwrite: true);
            Console.Error.WriteLine($"critique prompts: {count} prompts → {path}");
            return 0;
        });
        return cmd;
    }
}
