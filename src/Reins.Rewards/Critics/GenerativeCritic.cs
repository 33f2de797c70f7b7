using Reins.Feedback.Datasets;
using Reins.Feedback.Tokenization;
using Reins.Models.Chat;
using Reins.Models.Generation;
using Reins.Models.Transformers;
using Reins.Rewards.ProcessRewards;

namespace Reins.Rewards.Critics;

/// <summary>A critique and the verdict read from it (the earliest wrong step, −1 for none; null when it gives no valid one).</summary>
public sealed record Critique(string Text, int? Verdict);

/// <summary>
/// A generative critic (RefCritic; ProcessBench's critic models): a causal language model prompted with a problem and
/// its numbered steps (<see cref="CriticFormat"/>) that writes a critique ending in a verdict. Each solution's critique
/// is sampled from its own seed, so batching does not change it. A prompt longer than the model's positions leave room
/// for keeps its end (counted in <see cref="Report"/>).
/// </summary>
public sealed class GenerativeCritic
{
    private readonly CausalLanguageModel model;
    private readonly Func<int[], string> decode;
    private readonly SamplingOptions sampling;
    private readonly DatasetTokenizer tokenizer;
    private readonly bool chat;

    /// <summary>
    /// A critic of <paramref name="model"/>; with <paramref name="chat"/> the prompt is a user turn rendered by the
    /// tokenizer's chat template (instruction-tuned critics), else plain text after BOS.
    /// </summary>
    public GenerativeCritic(CausalLanguageModel model, ITextEncoder encoder, Func<int[], string> decode, CriticFormat format, SamplingOptions sampling, bool chat = false)
    {
        int room = model.Config.MaxPositions - sampling.MaxNewTokens;
        if (room < 1) throw new ArgumentException($"critic: max_new_tokens {sampling.MaxNewTokens} leaves no room for a prompt in the model's {model.Config.MaxPositions} positions.", nameof(sampling));
        (this.model, this.decode, this.chat, Format) = (model, decode, chat, format);
        this.sampling = sampling with { StopTokenIds = encoder.EosId is { } eos ? [eos] : [] };
        tokenizer = new DatasetTokenizer(encoder, new TokenizationOptions { MaxLength = null, MaxPromptLength = room, AppendEos = false });
    }

    /// <summary>The prompt and verdict grammar.</summary>
    public CriticFormat Format { get; }

    /// <summary>Prompts cut to fit so far.</summary>
    public TokenizationReport Report => tokenizer.Report;

    /// <summary>The critique of each solution, in order, <paramref name="batchSize"/> per generation call.</summary>
    public IReadOnlyList<Critique> Judge(IReadOnlyList<StepSolution> solutions, int batchSize, CancellationToken cancellation = default)
    {
        var result = new List<Critique>(solutions.Count);
        for (int start = 0; start < solutions.Count; start += batchSize)
        {
            cancellation.ThrowIfCancellationRequested();
            var batch = solutions.Skip(start).Take(batchSize).ToArray();
            var prompts = batch.Select(s =>
            {
                string text = Format.Render(s.Problem, s.Steps);
                var prompt = chat ? TextOrConversation.FromMessages([new ChatMessage("user", text)]) : TextOrConversation.FromText(text);
                return tokenizer.Prompt(new PromptOnlyExample(prompt))!.InputIds;
            }).ToArray();
            var options = sampling with { NumReturnSequences = 1, PromptSeeds = [.. Enumerable.Range(start, batch.Length).Select(i => sampling.Seed * 1_000_003UL + (ulong)i)] };
            foreach (var sample in Generator.Generate(model, prompts, options, decode).OrderBy(s => s.PromptIndex))
                result.Add(new Critique(sample.Text!, Format.Verdict(sample.Text!, batch[sample.PromptIndex].Steps.Count)));
        }
        return result;
    }
}
