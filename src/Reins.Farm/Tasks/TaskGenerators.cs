using System.Collections.Frozen;
using System.Text.Json;
using Reins.Feedback.Datasets;
using Reins.Tensors;

namespace Reins.Farm.Tasks;

/// <summary>
/// The generators of <see cref="IFarmTask"/> built from a task's three world-specific pieces: how to draw a problem,
/// its prompt text, and how a demonstrator responds to it. A task that has these gets prompts, demonstrations and a
/// corpus that follow the same split and seeding rules as every other task.
/// </summary>
/// <typeparam name="TProblem">What a prompt is about (an item, an equation, an instruction with constraints).</typeparam>
internal sealed class TaskGenerators<TProblem>(
    Func<Rng, TProblem> draw,
    Func<TProblem, string> text,
    Func<Rng, TProblem, string> respond,
    Func<TProblem, IReadOnlyDictionary<string, JsonElement>>? extra = null)
{
    /// <summary>The share of prompt-or-response corpus documents that are prompts.</summary>
    public const double PromptDocumentProbability = 0.25;

    // Demonstrations and corpora draw their responses from streams apart from the prompts', so the prompts of a seed
    // are the same whichever generator asks for them.
    private const ulong DemonstrationStream = 0xD3E0, CorpusStream = 0xC0E9;

    /// <summary>Problems of <paramref name="split"/> (see <see cref="PromptSampler"/>).</summary>
    public List<TProblem> Sample(FarmSplit split, int count, ulong seed) => PromptSampler.Sample(split, count, seed, draw, text);

    /// <summary>See <see cref="IFarmTask.Prompts"/>.</summary>
    public IReadOnlyList<PromptOnlyExample> Prompts(FarmSplit split, int count, ulong seed) =>
        [.. Sample(split, count, seed).Select(p => new PromptOnlyExample(TextOrConversation.FromText(text(p)))
        {
            Extra = extra?.Invoke(p) ?? FrozenDictionary<string, JsonElement>.Empty,
        })];

    /// <summary>See <see cref="IFarmTask.Demonstrations"/>.</summary>
    public IReadOnlyList<PromptCompletionExample> Demonstrations(int count, ulong seed)
    {
        var rng = new Rng(seed ^ DemonstrationStream);
        return [.. Sample(FarmSplit.Train, count, seed).Select(p =>
            new PromptCompletionExample(TextOrConversation.FromText(text(p)), TextOrConversation.FromText(respond(rng, p))))];
    }

    /// <summary>
    /// Documents that are either a training prompt or a response on its own, so that a base model learns both
    /// languages but not yet to answer; answering is what SFT teaches.
    /// </summary>
    public IReadOnlyList<string> PromptOrResponseCorpus(int documents, ulong seed)
    {
        var rng = new Rng(seed ^ CorpusStream);
        return [.. Sample(FarmSplit.Train, documents, seed).Select(p => rng.NextDouble() < PromptDocumentProbability ? text(p) : respond(rng, p))];
    }
}
